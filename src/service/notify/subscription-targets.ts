import {
  type Clock,
  ignoreMissing,
  type QueueMetadata,
  QueueNotFoundError,
  type Subscription,
  TtlCache,
} from '../../core/index.js';
import type { DataDriver } from '../../store/contract/index.js';
import type { DriverResolver } from '../driver-resolver.js';
import { type ResourceKind, storeProject } from '../namespaces.js';
import { effectiveRetryPolicy, retryIntervals } from './retry-schedule.js';
import type { BatchTarget } from './spool-batcher.js';

/** A subscription to notify, with whether it is confirmed. */
export interface Target extends BatchTarget {
  confirmed: boolean;
}

const MAX_CACHE_ENTRIES = 10_000;

function cacheKey(kind: ResourceKind, project: string, queue: string): string {
  return `${kind}\u0000${project}\u0000${queue}`;
}

/**
 * A queue's subscriptions as delivery targets, reused for `cacheMs` so that posts to queues
 * without subscriptions — almost all of them — do no I/O for notifications at all. A change
 * made through this process calls `forget` and applies at once; one made through another server
 * sharing the store, within the cache time.
 */
export class SubscriptionTargets {
  private readonly cache: TtlCache<Target[]>;

  constructor(
    private readonly resolver: DriverResolver,
    clock: Clock,
    cacheMs: number,
  ) {
    this.cache = new TtlCache({ ttlMs: cacheMs, maxEntries: MAX_CACHE_ENTRIES, clock });
  }

  /** True when the queue is known, within the cache time, to have no subscriptions (asks nothing). */
  knownEmpty(kind: ResourceKind, project: string, queue: string): boolean {
    return this.cache.peek(cacheKey(kind, project, queue))?.length === 0;
  }

  /** The queue's targets, from the cache or read now (concurrent reads of one queue share one). */
  of(kind: ResourceKind, project: string, queue: string): Promise<Target[]> {
    return this.cache.get(cacheKey(kind, project, queue), () => this.load(kind, project, queue));
  }

  forget(kind: ResourceKind, project: string, queue: string): void {
    this.cache.delete(cacheKey(kind, project, queue));
  }

  /** A subscription as a target, its retry schedule from its policy or else its queue's. */
  targetOf(kind: ResourceKind, project: string, s: Subscription, queueMetadata: QueueMetadata | null): Target {
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

  async queueMetadata(kind: ResourceKind, project: string, queue: string): Promise<QueueMetadata | null> {
    const driver = await this.driver(kind, project, queue);
    return ignoreMissing(driver.queues.getMetadata(storeProject(kind, project), queue), null);
  }

  /** A subscription as it is now (a retry follows it: it may have been renewed or pointed elsewhere). */
  async current(kind: ResourceKind, project: string, queue: string, id: string): Promise<Subscription> {
    const driver = await this.driver(kind, project, queue);
    return driver.subscriptions.get(storeProject(kind, project), queue, id);
  }

  private async driver(kind: ResourceKind, project: string, queue: string): Promise<DataDriver> {
    return this.resolver.forQueue(storeProject(kind, project), queue);
  }

  private async load(kind: ResourceKind, project: string, queue: string): Promise<Target[]> {
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
}
