import { mkdirSync } from 'node:fs';
import {
  type Clock,
  ignoreMissing,
  type Limits,
  LockedError,
  type Logger,
  LogThrottle,
  type NewMessage,
  type QueueMetadata,
  QueueNotFoundError,
  type Subscription,
  SubscriptionNotFoundError,
  stderrLogger,
  systemClock,
  type Timer,
} from '../../core/index.js';
import type { Bounce, DeliveryJob, DeliveryReport, RecipientOutcome } from '../../spool/index.js';
import { Spool } from '../../spool/index.js';
import type { DataDriver } from '../../store/contract/index.js';
import type { DriverResolver } from '../driver-resolver.js';
import { isSealed, type MessageCipher } from '../message-cipher.js';
import { type ResourceKind, storeProject } from '../namespaces.js';
import { formatExpires, signUrl } from '../signed-urls.js';
import { decodeBatch, type NotificationBatch, parseRecipient, type SpooledSubscription } from './batch.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { DestinationDeniedError, type DestinationPolicy } from './destination-policy.js';
import type { DeliveryCounts, NotificationHooks } from './hooks.js';
import { DEFAULT_SMTP_RELAY, MailSender, type SmtpRelay } from './mail-sender.js';
import {
  type ConfirmationType,
  confirmationPayload,
  notificationPayload,
  type Payload,
  payloadJson,
  webhookBody,
  webhookHeaders,
} from './payloads.js';
import { effectiveRetryPolicy, retryIntervals } from './retry-schedule.js';
import { MAX_SLOTS, notificationSlot } from './slots.js';
import { type BatchTarget, SpoolBatcher } from './spool-batcher.js';
import { parseSubscriber } from './subscriber-uri.js';
import { failed, type PairOutcome, PERMANENT, tryLater, WebhookSender } from './webhook-sender.js';

export interface NotifierOptions {
  /** Where subscriptions and queue metadata are read (the service's resolver). */
  resolver: DriverResolver;
  /**
   * The notifications folder. Each process takes the first free slot in it, `<dir>/<n>/`, with the
   * delivery spool in `spool/` and the delivery counts beside it; several processes serving one
   * configuration (`posthorn serve --workers`) each get their own, and a process started later
   * takes over a slot whose owner died, with its pending deliveries.
   */
  dir: string;
  limits: Limits;
  clock?: Clock;
  logger?: Logger;
  /** Zaqar's `[notification] require_confirmation`: unconfirmed subscriptions get only their confirmation request. */
  requireConfirmation?: boolean;
  /** Signs confirmation URLs (`[signed_url] secret_key`); required with requireConfirmation. */
  signedUrlSecret?: string | null;
  /** The server's public base URLs, for the confirm links of confirmation requests. */
  publicUrls?: () => { http: string | null; ws: string | null };
  /** A webhook (or mail) not answered after this long is retried on schedule. Default 10 s. */
  webhookTimeoutMs?: number;
  /** Keep-alive connections per webhook receiver. Default 32. */
  webhookConnections?: number;
  /** Spooled messages delivered at once. Default 16. */
  maxConcurrentDeliveries?: number;
  /** Most subscriptions per queue (0: no limit). Default 100. */
  maxSubscriptionsPerQueue?: number;
  /** The SMTP relay of `mailto:` subscribers. */
  smtp?: Partial<SmtpRelay>;
  /**
   * How long a queue's subscriptions are reused before they are read again. Changes made through
   * this process apply at once; changes made through another server sharing the store, within
   * this time. Default 1 s.
   */
  subscriptionCacheMs?: number;
  /**
   * Encryption at rest: with a current key, every batch is sealed before it is spooled, so the
   * bodies of encrypted queues never wait for delivery in clear in the notifications folder
   * (all batches, not only those of encrypted queues: it costs little and needs no bookkeeping).
   */
  cipher?: MessageCipher;
  /**
   * Where webhooks may go (`[notification] allow_destinations`, `deny_destinations`, and the
   * private-range default): checked when a subscription is made or changed, and at each delivery.
   * Default: anywhere.
   */
  destinations?: DestinationPolicy;
  /**
   * Origins of this server's own endpoints (the notification URL of its WebSocket subscribers):
   * the policy does not apply to them, since the server made those subscriptions itself.
   */
  ownOrigins?: () => readonly string[];
}

interface Target extends BatchTarget {
  confirmed: boolean;
}

interface CacheEntry {
  targets: Target[];
  until: number;
}

const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
const MAX_CACHE_ENTRIES = 10_000;
const REQUESTS_PER_SUBSCRIBER = 32;
const MAILS_PER_SUBSCRIBER = 2;
const PRUNE_EVERY_MS = 3_600_000;
/** A spooled message's delivery may take this long before the spool gives up on the attempt. */
const JOB_TIMEOUT_MS = 600_000;
/** Failed notifications are logged at most this often (a line with how many). */
const WARN_EVERY_MS = 10_000;
/** Processes that can share one notifications folder. */

function cacheKey(kind: ResourceKind, project: string, queue: string): string {
  return `${kind}\u0000${project}\u0000${queue}`;
}

/**
 * Delivers Zaqar's subscription notifications through the delivery Spool.
 *
 * A post to a queue with subscriptions hands one notification per message (Zaqar's payload) to
 * the spool, with every (notification, subscription) pair as a recipient, while the messages are
 * stored; the post is answered when both are durable, so an acknowledged message's notifications
 * are on disk. (Like Zaqar's, whose notifier runs before the store, a post the store then refuses
 * may still be notified: delivery is at least once.) Posts that arrive while a spool
 * write runs share the next one (SpoolBatcher). The spool delivers each message under a
 * concurrency bound; each pair's webhook or mail gets its result, so a retry goes only to the
 * pairs not yet delivered, on intervals that are the subscription's Zaqar retry policy. Retries
 * wait in the spool's files, so they survive a restart.
 *
 * Whether a queue has subscriptions is cached per queue (see subscriptionCacheMs), so posts to
 * queues without subscriptions — almost all of them — do no I/O for notifications at all.
 */
export class Notifier implements NotificationHooks {
  readonly requireConfirmation: boolean;
  readonly maxSubscriptionsPerQueue: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, { promise: Promise<Target[]> }>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly cacheMs: number;
  private readonly webhook: WebhookSender;
  private readonly relay: SmtpRelay;
  private mail: MailSender | null = null;
  private pruneTimer: Timer | null = null;
  private closing: Promise<void> | null = null;
  private spool!: Spool<null>;
  private batcher!: SpoolBatcher;
  private ledger!: DeliveryLedger;
  private slotDir = '';
  /** Failed deliveries, logged per destination at most every WARN_EVERY_MS (with how many were not). */
  private readonly failures: LogThrottle;
  private failedSinceWarning = 0;

  private constructor(private readonly options: NotifierOptions) {
    this.clock = options.clock ?? systemClock;
    this.failures = new LogThrottle(this.clock, WARN_EVERY_MS);
    this.log = options.logger ?? stderrLogger;
    this.requireConfirmation = options.requireConfirmation === true;
    this.maxSubscriptionsPerQueue = options.maxSubscriptionsPerQueue ?? 100;
    this.cacheMs = options.subscriptionCacheMs ?? 1000;
    this.webhook = new WebhookSender({
      timeoutMs: this.webhookTimeoutMs,
      connections: options.webhookConnections ?? 32,
      clock: this.clock,
      ...(options.destinations ? { policy: options.destinations } : {}),
      ...(options.ownOrigins ? { ownOrigins: options.ownOrigins } : {}),
    });
    this.relay = { ...DEFAULT_SMTP_RELAY, ...options.smtp };
    if (this.requireConfirmation && !options.signedUrlSecret) {
      throw new RangeError('confirmation of subscriptions needs a signed URL secret (signed_url.secret_key)');
    }
  }

  /** Opens a slot of the notifications folder (made when missing) and resumes every pending delivery in it. */
  static async open(options: NotifierOptions): Promise<Notifier> {
    const notifier = new Notifier(options);
    const log = notifier.log;
    for (let slot = 0; ; slot++) {
      const { dir, spoolDir } = notificationSlot(options.dir, slot);
      mkdirSync(dir, { recursive: true });
      try {
        notifier.spool = await Spool.create<null>({
          dir: spoolDir,
          deliver: (job) => notifier.deliver(job),
          bounce: (bounce) => notifier.bounced(bounce),
          clock: notifier.clock,
          retryIntervals: [],
          maxConcurrentJobs: options.maxConcurrentDeliveries ?? 16,
          deliveryTimeoutMs: JOB_TIMEOUT_MS,
          log: (level, message, fields) => log[level](fields ?? {}, message),
        });
      } catch (error) {
        if (error instanceof LockedError && slot < MAX_SLOTS - 1) continue;
        throw error;
      }
      notifier.slotDir = dir;
      break;
    }
    notifier.ledger = DeliveryLedger.open(notifier.slotDir, notifier.clock, notifier.log);
    notifier.ledger.prune();
    const cipher = options.cipher;
    notifier.batcher = new SpoolBatcher(
      notifier.spool,
      cipher?.canSeal === true ? (bytes) => cipher.seal(bytes, 'notifications') : undefined,
    );
    notifier.schedulePrune();
    return notifier;
  }

  /** This process's slot of the notifications folder. */
  get dir(): string {
    return this.slotDir;
  }

  private get webhookTimeoutMs(): number {
    return this.options.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  }

  // --- hooks of the queue service -------------------------------------------------------------

  posted(
    kind: ResourceKind,
    project: string,
    queue: string,
    messages: readonly NewMessage[],
  ): Promise<void> | undefined {
    const entry = this.cache.get(cacheKey(kind, project, queue));
    if (entry !== undefined && entry.targets.length === 0 && entry.until > this.clock.now()) return undefined;
    return this.notifyPosted(kind, project, queue, messages);
  }

  forget(kind: ResourceKind, project: string, queue: string): void {
    const key = cacheKey(kind, project, queue);
    this.cache.delete(key);
    this.loading.delete(key);
  }

  async subscribed(kind: ResourceKind, project: string, queue: string, subscription: Subscription): Promise<void> {
    this.forget(kind, project, queue);
    if (!this.requireConfirmation) return;
    await this.confirmation('SubscriptionConfirmation', kind, project, queue, subscription, subscription.expiresAt);
  }

  async unconfirmed(kind: ResourceKind, project: string, queue: string, subscription: Subscription): Promise<void> {
    this.forget(kind, project, queue);
    if (!this.requireConfirmation) return;
    const expires = this.clock.now() + this.options.limits.defaultSubscriptionTtl * 1000;
    await this.confirmation('UnsubscribeConfirmation', kind, project, queue, subscription, expires);
  }

  /**
   * Refuses (DestinationDeniedError, a 400) a webhook subscriber whose host the destination
   * policy denies, resolving its name now. A name that does not resolve is let through: nothing
   * is known against it, and delivery checks again. Mail goes to the operator's SMTP relay, not
   * to an address the client chooses, so `mailto:` subscribers are not checked.
   */
  async checkSubscriber(subscriber: string): Promise<void> {
    const policy = this.options.destinations;
    if (policy === undefined || policy.open) return;
    const target = parseSubscriber(subscriber);
    if (target.type !== 'webhook') return;
    if (this.options.ownOrigins?.().includes(new URL(target.url).origin)) return;
    try {
      await policy.checkUrl(target.url);
    } catch (error) {
      if (error instanceof DestinationDeniedError) throw error;
      // A resolver error (no such name, DNS down): not a refusal.
    }
  }

  removed(subscriptionId: string): void {
    this.ledger.forget(subscriptionId);
  }

  counts(subscriptionId: string): DeliveryCounts {
    const entry = this.ledger.get(subscriptionId);
    return {
      delivered: entry?.delivered ?? 0,
      pending: this.pendingCounts().get(subscriptionId) ?? 0,
      failed: entry?.failed ?? 0,
    };
  }

  /** Resolves when nothing is being spooled and no delivery runs or is due now (tests). */
  async whenIdle(): Promise<void> {
    await this.batcher.drained();
    await this.spool.whenIdle();
  }

  /** The delivery spool (for status and tests). */
  get deliverySpool(): Spool<null> {
    return this.spool;
  }

  /**
   * Waits for notifications being spooled, lets deliveries in flight finish (at most `timeoutMs`,
   * after which they are tried again at the next start), writes the counts and releases the folder.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      this.pruneTimer?.cancel();
      await this.batcher.drained();
      const timeout = options.timeoutMs ?? this.webhookTimeoutMs + 1000;
      await this.spool.close({ timeout: new Promise((r) => setTimeout(r, timeout).unref()) });
      this.ledger.close();
      this.mail?.close();
      await this.webhook.close();
    })();
    return this.closing;
  }

  // --- spooling -------------------------------------------------------------------------------

  private async notifyPosted(
    kind: ResourceKind,
    project: string,
    queue: string,
    messages: readonly NewMessage[],
  ): Promise<void> {
    const targets = await this.targets(kind, project, queue);
    const now = this.clock.now();
    const live = targets.filter((t) => t.subscription.expiresAt > now && (!this.requireConfirmation || t.confirmed));
    if (live.length === 0) return;
    await this.batcher.add(
      messages.map((m) => notificationPayload(m, queue)),
      live,
    );
  }

  private async confirmation(
    type: ConfirmationType,
    kind: ResourceKind,
    project: string,
    queue: string,
    subscription: Subscription,
    expiresAt: number,
  ): Promise<void> {
    const secret = this.options.signedUrlSecret;
    if (!secret) return;
    const collection = kind === 'queue' ? 'queues' : 'topics';
    const path = `/v2/${collection}/${queue}/subscriptions/${subscription.id}/confirm`;
    const signed = signUrl({
      secret,
      paths: [path],
      methods: ['PUT'],
      project,
      expires: formatExpires(Math.max(expiresAt, this.clock.now() + 60_000)),
      now: this.clock.now(),
    });
    const urls = this.options.publicUrls?.() ?? { http: null, ws: null };
    const payload = confirmationPayload({
      type,
      queueName: queue,
      signature: signed.signature,
      methods: signed.methods[0] as string,
      path: signed.paths[0] as string,
      project: signed.project,
      expires: signed.expires,
      httpUrl: urls.http === null ? null : new URL(path, urls.http).href,
      wsUrl: urls.ws === null ? null : new URL(path, urls.ws).href,
    });
    const metadata = await this.queueMetadata(kind, project, queue);
    await this.batcher.add([payload], [this.targetOf(kind, project, subscription, metadata)]);
  }

  private targetOf(kind: ResourceKind, project: string, s: Subscription, queueMetadata: QueueMetadata | null): Target {
    const intervals = retryIntervals(effectiveRetryPolicy(s.options, queueMetadata));
    return {
      subscription: {
        id: s.id,
        kind,
        project,
        source: s.source,
        subscriber: s.subscriber,
        options: s.options,
        expiresAt: s.expiresAt,
      },
      intervals,
      scheduleKey: intervals.join(','),
      confirmed: s.confirmed,
    };
  }

  /** The queue's subscriptions as delivery targets, from the cache or read now. */
  private targets(kind: ResourceKind, project: string, queue: string): Promise<Target[]> | Target[] {
    const key = cacheKey(kind, project, queue);
    const entry = this.cache.get(key);
    if (entry !== undefined && entry.until > this.clock.now()) return entry.targets;
    const running = this.loading.get(key);
    if (running) return running.promise;
    const load = { promise: this.loadTargets(kind, project, queue) };
    this.loading.set(key, load);
    load.promise.then(
      (targets) => {
        // A forget() while reading means what was read may be stale: keep it for this call only.
        if (this.loading.get(key) !== load) return;
        this.loading.delete(key);
        if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
        this.cache.set(key, { targets, until: this.clock.now() + this.cacheMs });
      },
      () => {
        if (this.loading.get(key) === load) this.loading.delete(key);
      },
    );
    return load.promise;
  }

  private async driver(kind: ResourceKind, project: string, queue: string): Promise<DataDriver> {
    return this.options.resolver.forQueue(storeProject(kind, project), queue);
  }

  private async queueMetadata(kind: ResourceKind, project: string, queue: string): Promise<QueueMetadata | null> {
    const driver = await this.driver(kind, project, queue);
    return ignoreMissing(driver.queues.getMetadata(storeProject(kind, project), queue), null);
  }

  private async loadTargets(kind: ResourceKind, project: string, queue: string): Promise<Target[]> {
    const driver = await this.driver(kind, project, queue);
    const sp = storeProject(kind, project);
    const subscriptions: Subscription[] = [];
    let marker: string | undefined;
    try {
      for (let page = 0; page < 10_000; page++) {
        const found = await driver.subscriptions.list(sp, queue, {
          limit: driver.limits.maxSubscriptionsPerPage,
          ...(marker !== undefined ? { marker } : {}),
        });
        subscriptions.push(...found.subscriptions);
        if (found.subscriptions.length === 0 || found.marker === null || found.marker === marker) break;
        marker = found.marker;
      }
    } catch (error) {
      if (error instanceof QueueNotFoundError) return [];
      throw error;
    }
    if (subscriptions.length === 0) return [];
    const metadata = await this.queueMetadata(kind, project, queue);
    return subscriptions.map((s) => this.targetOf(kind, project, s, metadata));
  }

  // --- delivery -------------------------------------------------------------------------------

  /** A spooled batch's bytes, opened when sealed (a missing key or damage throws: the batch fails). */
  private unsealed(body: Buffer): Uint8Array {
    if (!isSealed(body)) return body;
    if (!this.options.cipher) throw new TypeError('the batch is encrypted and this server has no [encryption] key');
    const opened = this.options.cipher.open(body, 'notifications', 'batch');
    if (!(opened instanceof Uint8Array)) throw new TypeError('an encrypted batch holds no bytes');
    return opened;
  }

  private async deliver(job: DeliveryJob<null>): Promise<DeliveryReport> {
    const report = new Map<string, RecipientOutcome>();
    let batch: NotificationBatch;
    try {
      batch = decodeBatch(this.unsealed(job.envelope.body));
    } catch (error) {
      for (const r of job.envelope.recipients) {
        report.set(r, failed(`the spooled notifications are unreadable (${(error as Error).message})`));
      }
      return report;
    }
    const subscriptions = new Map(batch.subscriptions.map((s) => [s.id, s]));
    const bySubscription = new Map<string, number[]>();
    for (const recipient of job.envelope.recipients) {
      const pair = parseRecipient(recipient);
      if (pair === null || batch.items[pair.item] === undefined || !subscriptions.has(pair.subscriptionId)) {
        report.set(recipient, failed('not a notification of this batch'));
        continue;
      }
      let items = bySubscription.get(pair.subscriptionId);
      if (!items) {
        items = [];
        bySubscription.set(pair.subscriptionId, items);
      }
      items.push(pair.item);
    }
    const deadline = this.clock.now() + JOB_TIMEOUT_MS - 2 * this.webhookTimeoutMs;
    // Each notification is serialized once, whatever the number of its subscribers.
    const json: (string | undefined)[] = new Array(batch.items.length);
    const jsonOf = (item: number) => {
      let text = json[item];
      if (text === undefined) {
        text = payloadJson(batch.items[item] as Payload);
        json[item] = text;
      }
      return text;
    };
    await Promise.all(
      [...bySubscription].map(([id, items]) =>
        this.deliverTo(subscriptions.get(id) as SpooledSubscription, items, batch, jsonOf, job, deadline, report),
      ),
    );
    return report;
  }

  private async deliverTo(
    spooled: SpooledSubscription,
    items: number[],
    batch: NotificationBatch,
    jsonOf: (item: number) => string,
    job: DeliveryJob<null>,
    deadline: number,
    report: Map<string, RecipientOutcome>,
  ): Promise<void> {
    let s = spooled;
    const settle = (item: number, outcome: PairOutcome) => report.set(`${s.id}/${item}`, outcome);
    const all = (outcome: PairOutcome) => {
      for (const item of items) settle(item, outcome);
      if (outcome.status === 'failed') this.count(s, 0, items.length);
    };
    if (job.attempt > 1) {
      // A retry may come long after the post: the subscription may have been deleted, renewed
      // or pointed elsewhere meanwhile. Retries follow it as it is now.
      try {
        const driver = await this.driver(s.kind, s.project, s.source);
        const now = await driver.subscriptions.get(storeProject(s.kind, s.project), s.source, s.id);
        s = { ...s, subscriber: now.subscriber, options: now.options, expiresAt: now.expiresAt };
      } catch (error) {
        if (error instanceof QueueNotFoundError || error instanceof SubscriptionNotFoundError) {
          return all(failed('the subscription no longer exists'));
        }
        return all(tryLater(`the subscription could not be read: ${(error as Error).message}`));
      }
    }
    if (s.expiresAt <= this.clock.now()) return all(failed('the subscription expired'));
    const target = parseSubscriber(s.subscriber);
    if (target.type === 'unreachable') return all(failed(target.reason));
    let send: (item: number) => Promise<PairOutcome>;
    if (target.type === 'webhook') {
      const headers = webhookHeaders(s.options);
      if (target.authorization !== null) headers.authorization = target.authorization;
      send = (item) => this.webhook.send(target.url, headers, webhookBody(jsonOf(item), s.options));
    } else {
      send = (item) =>
        this.mailer().send(this.mailOf(s, target.address, target.subject, batch.items[item] as Payload, jsonOf(item)));
    }
    const lanes = target.type === 'webhook' ? REQUESTS_PER_SUBSCRIBER : MAILS_PER_SUBSCRIBER;
    let next = 0;
    let delivered = 0;
    let lost = 0;
    let retried = 0;
    let example: PairOutcome | null = null;
    const lane = async () => {
      while (next < items.length) {
        const item = items[next++] as number;
        if (this.clock.now() > deadline) {
          settle(item, tryLater('not tried in this attempt: its time ran out'));
          continue;
        }
        const outcome = await send(item);
        settle(item, outcome);
        if (outcome.status === 'delivered') delivered++;
        else {
          example ??= outcome;
          if (outcome.status === 'failed') lost++;
          else retried++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
    this.count(s, delivered, lost);
    if (example !== null) {
      const where =
        target.type === 'webhook' ? new URL(target.url).origin : `mailto:@${target.address.split('@').pop()}`;
      this.logFailedAttempt(s, where, retried, lost, example);
    }
  }

  /**
   * A delivery attempt that did not deliver everything: one warning per destination (a webhook's
   * origin, a mail domain: never the path, query or address, which may carry secrets) at most
   * every WARN_EVERY_MS, saying how many lines it stands for.
   */
  private logFailedAttempt(s: SpooledSubscription, where: string, retried: number, lost: number, example: PairOutcome) {
    const skipped = this.failures.take(`attempt ${where}`);
    if (skipped === null) return;
    this.log.warn(
      {
        subscription: s.id,
        project: s.project,
        queue: s.source,
        destination: where,
        retried,
        failed: lost,
        reason: example.status === 'delivered' ? null : example.reason,
        ...(skipped > 0 ? { unlogged: skipped } : {}),
      },
      retried > 0 ? 'notifications were not delivered: they will be tried again' : 'notifications failed for good',
    );
  }

  private count(s: SpooledSubscription, delivered: number, lost: number): void {
    if (delivered === 0 && lost === 0) return;
    this.ledger.count(
      s.id,
      { kind: s.kind, project: s.project, source: s.source, subscriber: s.subscriber, expiresAt: s.expiresAt },
      delivered,
      lost,
    );
  }

  private mailer(): MailSender {
    this.mail ??= new MailSender(this.relay, this.webhookTimeoutMs, this.clock);
    return this.mail;
  }

  private mailOf(s: SpooledSubscription, to: string, uriSubject: string | null, payload: Payload, json: string) {
    const from = typeof s.options.from === 'string' && s.options.from !== '' ? s.options.from : this.relay.from;
    const type = payload.Message_Type;
    if (type === 'SubscriptionConfirmation' || type === 'UnsubscribeConfirmation') {
      const link = typeof payload.WSGISubscribeURL === 'string' ? payload.WSGISubscribeURL : payload['URL-Paths'];
      const what = type === 'SubscriptionConfirmation' ? 'confirm' : 'resubscribe to';
      return {
        from,
        to,
        subject:
          type === 'SubscriptionConfirmation'
            ? `Confirm your subscription to ${s.source}`
            : `You unsubscribed from ${s.source}`,
        text:
          `${String(payload.Message)}\n\nTo ${what} it, send PUT ${String(link)} with the body ` +
          `{"confirmed": true} and the headers URL-Signature, URL-Methods, URL-Paths, URL-Expires and ` +
          `X-Project-ID given below.\n\n${json}\n`,
      };
    }
    const subject = uriSubject ?? (typeof s.options.subject === 'string' ? s.options.subject : '');
    return { from, to, subject, text: json };
  }

  /** Pairs that ran out of retries (failures for good were counted when they happened). */
  private bounced(bounce: Bounce<null>): void {
    let batch: NotificationBatch | null = null;
    try {
      batch = decodeBatch(this.unsealed(bounce.envelope.body));
    } catch {}
    const exhausted = new Map<string, number>();
    for (const f of bounce.failed) {
      if (f.reason.startsWith(PERMANENT)) continue;
      const pair = parseRecipient(f.recipient);
      if (pair) exhausted.set(pair.subscriptionId, (exhausted.get(pair.subscriptionId) ?? 0) + 1);
    }
    for (const [id, n] of exhausted) {
      const s = batch?.subscriptions.find((x) => x.id === id);
      if (s) this.count(s, 0, n);
    }
    if (bounce.failed.length === 0) return;
    // A subscriber that is down for good fails every batch: one line per interval says so.
    this.failedSinceWarning += bounce.failed.length;
    if (this.failures.take('bounced') === null) return;
    this.log.warn(
      { failed: this.failedSinceWarning, example: bounce.failed[0], spooled: bounce.id },
      'notifications failed for good (their retries ran out, or the receiver refused them)',
    );
    this.failedSinceWarning = 0;
  }

  /** Pending pairs per subscription, counted in the spool's memory (a walk over every spooled message). */
  private pendingCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.spool.status().messages) {
      if (m.state === 'removed' || m.state === 'quarantined') continue;
      for (const r of m.recipients) {
        if (r.state !== 'pending') continue;
        const pair = parseRecipient(r.address);
        if (pair) counts.set(pair.subscriptionId, (counts.get(pair.subscriptionId) ?? 0) + 1);
      }
    }
    return counts;
  }

  private schedulePrune(): void {
    this.pruneTimer = this.clock.setTimer(PRUNE_EVERY_MS, () => {
      this.ledger.prune();
      this.schedulePrune();
    });
  }
}
