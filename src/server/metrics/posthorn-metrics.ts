import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RequestObserver, RouteCounter } from '../../api/http/index.js';
import type { QueueMover } from '../../pool/index.js';
import type { MessageCounters, QueueService } from '../../service/index.js';
import type { Spool } from '../../spool/index.js';
import type { StoreObserver } from '../../store/contract/index.js';
import { LabelBudget } from './label-budget.js';
import { readQueueDepths } from './queue-depths.js';
import { type CountTally, type HistogramTally, TallyCounter, TallyHistogram } from './tallies.js';

/** Latency buckets in seconds: from a memory-store request (well under a millisecond) to a slow remote store. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Records per group commit. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Most projects remembered for scrape-time gauges (Zaqar's stores cannot list projects). */
const MAX_PROJECTS = 10_000;
/** The route label of a request no route matched (a 404): never the raw path, which is unbounded. */
const NO_ROUTE = '_unmatched';
/** Most distinct (method, route, status) or (action, status) series. */
const MAX_REQUEST_SERIES = 2_000;

interface QueueChildren {
  posted: CountTally;
  claimed: CountTally;
  deleted: CountTally;
  expired: CountTally;
  deadLettered: CountTally;
}

interface RequestChildren {
  count: CountTally;
  duration: HistogramTally;
}

/** What a scrape reads at its time, beside the counters. */
export interface MetricsSources {
  service: QueueService;
  mover?: QueueMover | null;
  /** The notification delivery spool. */
  notifications?: Spool<null> | null;
}

export interface PosthornMetricsOptions {
  /** Queues reported one by one (per-queue counters and gauges); the rest are `_other`. */
  maxQueues: number;
}

/**
 * Every Posthorn metric in one prom-client registry. The request path only counts in memory
 * (children cached per label set: see LabelBudget); depths, spool states and pool health are
 * read when Prometheus scrapes, so metrics cost no storage call per request.
 */
export class PosthornMetrics implements MessageCounters, RequestObserver {
  readonly registry = new Registry();
  private readonly queueChildren: LabelBudget<QueueChildren>;
  private readonly httpChildren = new Map<string, RequestChildren>();
  private readonly httpRoutes = new Map<string, RouteCounter>();
  private readonly wsChildren = new Map<string, RequestChildren>();
  private readonly projects = new Set<string>();
  private sources: MetricsSources | null = null;
  private refreshing: Promise<void> | null = null;
  private gather: (() => Promise<string>) | null = null;
  private readonly maxQueues: number;

  private readonly messages: Gauge<string>;
  private readonly oldestAge: Gauge<string>;
  private readonly queuesUnreadable: Gauge<string>;
  private readonly httpRequests: TallyCounter;
  private readonly httpDuration: TallyHistogram;
  private readonly wsRequests: TallyCounter;
  private readonly wsDuration: TallyHistogram;
  private readonly commitSeconds: TallyHistogram;
  private readonly commitRecords: TallyHistogram;
  private readonly roundTripSeconds: TallyHistogram;
  private readonly notifications: TallyCounter;
  private readonly notificationsPending: Gauge<string>;
  private readonly spoolEntries: Gauge<string>;
  private readonly poolUp: Gauge<string>;
  private readonly movesInProgress: Gauge<string>;

  constructor(options: PosthornMetricsOptions) {
    this.maxQueues = options.maxQueues;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const queueLabels = ['project', 'queue'];
    const counter = (name: string, help: string, labelNames = queueLabels) =>
      new TallyCounter(this.registry, name, help, labelNames);
    const posted = counter('posthorn_messages_posted_total', 'Messages posted, by project and queue.');
    const claimed = counter('posthorn_messages_claimed_total', 'Messages taken by claims, by project and queue.');
    const deleted = counter(
      'posthorn_messages_deleted_total',
      'Messages deleted (one, bulk or pop), by project and queue.',
    );
    const expired = counter(
      'posthorn_messages_expired_total',
      'Messages removed by garbage collection past their TTL.',
    );
    const deadLettered = counter(
      'posthorn_messages_dead_lettered_total',
      'Messages moved to a dead-letter queue, by the project and queue they left.',
    );
    // Every counter of a queue is shown from its first use (at 0), so rates and alerts see a start.
    const zeroed = (c: TallyCounter, project: string, queue: string) => c.series(project, queue);
    this.queueChildren = new LabelBudget(options.maxQueues, (project, queue) => ({
      posted: zeroed(posted, project, queue),
      claimed: zeroed(claimed, project, queue),
      deleted: zeroed(deleted, project, queue),
      expired: zeroed(expired, project, queue),
      deadLettered: zeroed(deadLettered, project, queue),
    }));
    // Under `--workers` the workers' metrics are summed (cluster-scrape.ts); gauges that every
    // worker reads from the same shared stores and spool say how to combine instead: the most
    // one saw, and for a pool's health the least (down when any worker cannot reach it).
    this.messages = new Gauge({
      name: 'posthorn_messages',
      help: 'Messages in a queue by state (free, claimed, delayed: disjoint), read at scrape time.',
      labelNames: ['project', 'queue', 'state'],
      aggregator: 'max',
      registers,
    });
    this.oldestAge = new Gauge({
      name: 'posthorn_oldest_message_age_seconds',
      help: "Age of a queue's oldest live message (0 when empty), read at scrape time.",
      labelNames: queueLabels,
      aggregator: 'max',
      registers,
    });
    this.queuesUnreadable = new Gauge({
      name: 'posthorn_metrics_queues_unreadable',
      help: 'Queues whose stats this scrape could not read (their pool is down).',
      aggregator: 'max',
      registers,
    });
    this.httpRequests = counter('posthorn_http_requests_total', 'HTTP requests answered, by route template.', [
      'method',
      'route',
      'status',
    ]);
    this.httpDuration = new TallyHistogram(
      this.registry,
      'posthorn_http_request_duration_seconds',
      'Time to answer an HTTP request, by route template.',
      ['method', 'route', 'status'],
      LATENCY_BUCKETS,
    );
    this.wsRequests = counter('posthorn_ws_requests_total', 'WebSocket actions answered.', ['action', 'status']);
    this.wsDuration = new TallyHistogram(
      this.registry,
      'posthorn_ws_request_duration_seconds',
      'Time to answer a WebSocket action.',
      ['action', 'status'],
      LATENCY_BUCKETS,
    );
    this.commitSeconds = new TallyHistogram(
      this.registry,
      'posthorn_store_commit_seconds',
      "Time of one group commit's fsync in a disk store, by pool.",
      ['pool'],
      LATENCY_BUCKETS,
    );
    this.commitRecords = new TallyHistogram(
      this.registry,
      'posthorn_store_commit_batch_records',
      'Records made durable by one group commit of a disk store, by pool.',
      ['pool'],
      BATCH_BUCKETS,
    );
    this.roundTripSeconds = new TallyHistogram(
      this.registry,
      'posthorn_store_round_trip_seconds',
      'Time of one round trip to a Redis or PostgreSQL pool.',
      ['pool'],
      LATENCY_BUCKETS,
    );
    this.notifications = counter(
      'posthorn_notifications_total',
      'Notification deliveries by outcome: delivered, retried (to be tried again), failed (given up).',
      ['outcome'],
    );
    for (const outcome of ['delivered', 'retried', 'failed']) this.notifications.series(outcome);
    this.notificationsPending = new Gauge({
      name: 'posthorn_notifications_pending',
      help: 'Notifications waiting in the delivery spool (to send now, later, or being sent).',
      aggregator: 'max',
      registers,
    });
    this.spoolEntries = new Gauge({
      name: 'posthorn_spool_entries',
      help: 'Entries of a spool by state.',
      labelNames: ['spool', 'state'],
      aggregator: 'max',
      registers,
    });
    this.poolUp = new Gauge({
      name: 'posthorn_pool_up',
      help: "1 when a pool's store answers (full counts as up), 0 when it is down.",
      labelNames: ['pool'],
      aggregator: 'min',
      registers,
    });
    this.movesInProgress = new Gauge({
      name: 'posthorn_queue_moves_in_progress',
      help: 'Queue moves running in this process.',
      registers,
    });
  }

  /** What scrapes read; given once the server's parts are open. */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  // --- counting (the hot path: map lookups and additions only) -------------------------------

  posted(project: string, queue: string, count: number): void {
    this.queueChildren.get(project, queue).posted.value += count;
  }

  claimed(project: string, queue: string, count: number): void {
    this.queueChildren.get(project, queue).claimed.value += count;
  }

  deleted(project: string, queue: string, count: number): void {
    this.queueChildren.get(project, queue).deleted.value += count;
  }

  /** A project a request named: its queues are reported at the next scrape. */
  sawProject(project: string): void {
    if (this.projects.size < MAX_PROJECTS || this.projects.has(project)) this.projects.add(project);
  }

  /**
   * The counter of one HTTP route (the app asks once per route): its series are looked up once
   * per status it answers, not on every request.
   */
  route(method: string, template: string | null): RouteCounter {
    const route = template ?? NO_ROUTE;
    const key = `${method} ${route}`;
    let counter = this.httpRoutes.get(key);
    if (counter === undefined) {
      const byStatus = new Map<number, RequestChildren>();
      counter = {
        answered: (status, seconds, project) => {
          let children = byStatus.get(status);
          if (children === undefined) {
            children = this.httpSeries(method, route, status);
            byStatus.set(status, children);
          }
          children.count.value++;
          children.duration.observe(seconds);
          if (project) this.sawProject(project);
        },
      };
      if (this.httpRoutes.size < MAX_REQUEST_SERIES) this.httpRoutes.set(key, counter);
    }
    return counter;
  }

  private httpSeries(method: string, route: string, status: number): RequestChildren {
    const key = `${method} ${route} ${status}`;
    let children = this.httpChildren.get(key);
    if (children === undefined) {
      const labels =
        this.httpChildren.size < MAX_REQUEST_SERIES
          ? [method, route, String(status)]
          : [method, '_other', String(status)];
      children = { count: this.httpRequests.series(...labels), duration: this.httpDuration.series(...labels) };
      if (this.httpChildren.size < MAX_REQUEST_SERIES) this.httpChildren.set(key, children);
    }
    return children;
  }

  wsAnswered(action: string, status: number, seconds: number): void {
    const key = `${action} ${status}`;
    let children = this.wsChildren.get(key);
    if (children === undefined) {
      children = {
        count: this.wsRequests.series(action, String(status)),
        duration: this.wsDuration.series(action, String(status)),
      };
      if (this.wsChildren.size < MAX_REQUEST_SERIES) this.wsChildren.set(key, children);
    }
    children.count.value++;
    children.duration.observe(seconds);
  }

  /** The observer a pool's store reports to (commits, round trips, dead letters, expiries). */
  storeObserver(pool: string): StoreObserver {
    const commitSeconds = this.commitSeconds.series(pool);
    const commitRecords = this.commitRecords.series(pool);
    const roundTrip = this.roundTripSeconds.series(pool);
    return {
      committed: (seconds, records) => {
        commitSeconds.observe(seconds);
        commitRecords.observe(records);
      },
      roundTrip: (seconds) => roundTrip.observe(seconds),
      deadLettered: (project, queue, count) => {
        if (!isNamespaced(project)) this.queueChildren.get(project, queue).deadLettered.value += count;
      },
      expired: (project, queue, count) => {
        if (!isNamespaced(project)) this.queueChildren.get(project, queue).expired.value += count;
      },
    };
  }

  /** Counts the spool's delivery outcomes from its event stream until `close`. */
  followNotifications(spool: Spool<null>): () => void {
    const events = spool.events();
    void (async () => {
      try {
        for await (const event of events) {
          if (event.type === 'delivered') this.notifications.series('delivered').value++;
          else if (event.type === 'delayed') this.notifications.series('retried').value++;
          else if (event.type === 'bounced') this.notifications.series('failed').value++;
        }
      } catch {
        // The spool closed: nothing more to count.
      }
    })();
    return () => void events.return?.(undefined);
  }

  // --- scraping -------------------------------------------------------------------------------

  /** The Prometheus text of every metric, the scrape-time ones read now. Never throws for a store that is down. */
  /** The text Prometheus reads: this process's metrics, or every worker's under `--workers`. */
  async scrape(): Promise<string> {
    if (this.gather) return this.gather();
    await this.refreshOnce();
    return this.registry.metrics();
  }

  /** This process's metrics as prom-client's JSON, its scrape-time gauges read (a worker's part). */
  async part(): Promise<object[]> {
    await this.refreshOnce();
    return this.registry.getMetricsAsJSON();
  }

  /** Serves scrapes from `gather` (the sum over a cluster's workers: cluster-scrape.ts). */
  gatherWith(gather: () => Promise<string>): void {
    this.gather = gather;
  }

  private refreshOnce(): Promise<void> {
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refresh(): Promise<void> {
    const sources = this.sources;
    if (sources === null) return;
    const { service } = sources;
    let states: Map<string, string>;
    try {
      states = await service.storeStates();
    } catch {
      states = new Map();
    }
    this.poolUp.reset();
    for (const [pool, state] of states) this.poolUp.labels(pool).set(state === 'down' ? 0 : 1);
    const report = await readQueueDepths(service, this.projects, this.maxQueues);
    this.messages.reset();
    this.oldestAge.reset();
    for (const d of report.depths) {
      this.messages.labels(d.project, d.queue, 'free').set(d.free);
      this.messages.labels(d.project, d.queue, 'claimed').set(d.claimed);
      this.messages.labels(d.project, d.queue, 'delayed').set(d.delayed);
      this.oldestAge.labels(d.project, d.queue).set(d.oldestAgeSeconds);
    }
    this.queuesUnreadable.set(report.unreadable);
    this.movesInProgress.set(sources.mover?.runningCount ?? 0);
    this.spoolEntries.reset();
    this.notificationsPending.set(0);
    const spool = sources.notifications;
    if (spool) {
      const byState = new Map<string, number>();
      for (const m of spool.status().messages) byState.set(m.state, (byState.get(m.state) ?? 0) + 1);
      for (const state of ['send-now', 'send-at', 'delivering', 'frozen', 'removed', 'quarantined']) {
        this.spoolEntries.labels('notifications', state).set(byState.get(state) ?? 0);
      }
      this.notificationsPending.set(
        (byState.get('send-now') ?? 0) + (byState.get('send-at') ?? 0) + (byState.get('delivering') ?? 0),
      );
    }
  }
}

/**
 * Stores see topics, the health probe and the quotas as projects behind a prefix that starts with
 * a control character (service/namespaces.ts); the metrics name queues of clients' projects only.
 */
function isNamespaced(project: string): boolean {
  return project.startsWith('\u001f');
}
