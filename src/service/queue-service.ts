import { type Clock, type Limits, makeLimits, newId, systemClock } from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';
import { type RedriveResult, readRedriveRequest, redrive } from './dead-letters.js';
import { DEFAULT_SUBSCRIBER_TYPES } from './documents.js';
import { type DriverResolver, singleDriverResolver } from './driver-resolver.js';
import type { FairShare } from './fair-share.js';
import { type KeyRing, MessageCipher } from './message-cipher.js';
import type { MessageCounters } from './message-counters.js';
import { healthProject } from './namespaces.js';
import type { NotificationHooks } from './notify/hooks.js';
import { QuotaBook } from './quota-book.js';
import type { QuotaSettings } from './quotas.js';
import { type ClientIdPolicy, checkClientId, checkProjectId, DEFAULT_CLIENT_ID_POLICY } from './request-identity.js';
import { ResourceScope } from './scope/index.js';
import { type PresentedSignature, type SignedUrl, shareQueue, verifySignature } from './signed-urls.js';

export interface QueueServiceOptions {
  /** Where storage calls go; give this or `driver`. Pooling (issue 7) gives its catalog here. */
  resolver?: DriverResolver;
  /** One store for everything: the same as `resolver: singleDriverResolver(driver)`. */
  driver?: DataDriver;
  /** The limits table; Zaqar's defaults when omitted. */
  limits?: Partial<Limits>;
  clock?: Clock;
  /** How Client-IDs are checked (UUIDs by default). */
  clientIds?: Partial<ClientIdPolicy>;
  /** Stamp messages with "MD5:<hex>" checksums (Zaqar's `enable_checksum`; off by default). */
  checksums?: boolean;
  /** The secret pre-signed URLs are signed with; without one, sharing is refused. */
  signedUrlSecret?: string | null;
  /** URI schemes a subscriber may have (Zaqar's `subscriber_types`). */
  subscriberTypes?: readonly string[];
  /** Delivers subscription notifications (service/notify's Notifier); without one, subscriptions only are stored. */
  notifier?: NotificationHooks;
  /**
   * Keys of encryption at rest: `current` seals the bodies of queues with
   * `_enable_encrypt_messages`, `old` ones still open what they sealed. Without a current key,
   * setting the flag is refused.
   */
  encryption?: KeyRing;
  /** Per-project quotas (quotas.ts): defaults, projects' own, how often usage is read again. */
  quotas?: QuotaSettings;
  /** Per-project rates of requests and posted messages (fair-share.ts); none: unlimited. */
  fairShare?: FairShare | null;
  /** Counts posts, claims and deletes per queue (the server's metrics); none: nothing is counted. */
  counters?: MessageCounters;
  /** Zaqar's `message_delete_with_claim_id`: a delete by ids must also name their claims (off by default). */
  messageDeleteWithClaimId?: boolean;
}

/** One probed storage operation of a health report. */
export interface OperationStatus {
  seconds: number;
  ref: string | null;
  succeeded: boolean;
}

/** A store as readiness reports it (see QueueService.storeStates). */
export type StoreState = 'up' | 'down' | 'full';

export interface StorageHealth {
  storage_reachable: boolean;
  /** Present (true) while the store's disk is full: posts are refused, reads and deletes go on. */
  storage_full?: true;
  operation_status: Record<string, OperationStatus>;
}

/**
 * The queue service: every rule of Zaqar's API that is neither storage nor a transport. The HTTP
 * API (api/http) and the WebSocket API (issue 8) both call it; it knows nothing of either.
 *
 * `queues` and `topics` hold the operations on each resource kind; the rest is what does not
 * belong to one queue: who is asking (Client-ID, project), pre-signed URLs, liveness and health.
 */
export class QueueService {
  readonly limits: Limits;
  readonly clock: Clock;
  readonly clientIdPolicy: ClientIdPolicy;
  readonly queues: ResourceScope;
  readonly topics: ResourceScope;
  readonly notifier: NotificationHooks | null;
  /** Per-project quotas and usage; the admin API reads and changes them here. */
  readonly quotas: QuotaBook;
  /** Charged by the transports per request and by posts per message; null: no limits. */
  readonly fairShare: FairShare | null;
  private readonly resolver: DriverResolver;
  private readonly secret: string | null;

  constructor(options: QueueServiceOptions) {
    this.limits = makeLimits(options.limits);
    this.clock = options.clock ?? systemClock;
    this.clientIdPolicy = { ...DEFAULT_CLIENT_ID_POLICY, ...options.clientIds };
    if (this.clientIdPolicy.mode !== 'strict' && this.clientIdPolicy.mode !== 'off') {
      throw new RangeError(`client id mode must be "strict" or "off", not ${JSON.stringify(this.clientIdPolicy.mode)}`);
    }
    if (!(this.clientIdPolicy.minLength >= 1 && this.clientIdPolicy.minLength <= this.clientIdPolicy.maxLength)) {
      throw new RangeError('client id lengths must keep 1 <= minLength <= maxLength');
    }
    if (options.resolver && options.driver) throw new RangeError('give a resolver or a driver, not both');
    const resolver = options.resolver ?? (options.driver ? singleDriverResolver(options.driver) : undefined);
    if (!resolver) throw new RangeError('a QueueService needs a resolver or a driver');
    this.resolver = resolver;
    this.secret = options.signedUrlSecret ?? null;
    this.notifier = options.notifier ?? null;
    this.quotas = new QuotaBook(this.resolver, this.limits, this.clock, options.quotas);
    this.fairShare = options.fairShare ?? null;
    const settings = {
      resolver: this.resolver,
      limits: this.limits,
      clock: this.clock,
      checksums: options.checksums === true,
      subscriberTypes: options.subscriberTypes ?? DEFAULT_SUBSCRIBER_TYPES,
      notifier: options.notifier,
      cipher: new MessageCipher(options.encryption),
      quotas: this.quotas,
      fairShare: this.fairShare ?? undefined,
      counters: options.counters,
      messageDeleteWithClaimId: options.messageDeleteWithClaimId === true,
    };
    this.queues = new ResourceScope('queue', settings);
    this.topics = new ResourceScope('topic', settings);
  }

  /** Moves a queue's dead letters back into it (dead-letters.ts): `{}` for all, `{"ids": [...]}` for some. */
  async redrive(project: string, queue: string, document: unknown): Promise<RedriveResult> {
    const request = readRedriveRequest(document, this.limits.maxMessagesPerPage);
    const context = { queues: this.queues, quotas: this.quotas, limits: this.limits, clock: this.clock };
    return redrive(context, project, this.queues.checkName(queue), request);
  }

  /** Checks a Client-ID; returns the form messages are stamped with (a canonical UUID in strict mode). */
  checkClientId(value: string | undefined): string {
    return checkClientId(value, this.clientIdPolicy);
  }

  /** Checks an X-Project-ID: present, not empty, not too long. */
  checkProject(value: string | undefined): string {
    return checkProjectId(value, this.limits);
  }

  /** Signs a share request for the queue whose resources live under `queuePath` (e.g. /v2/queues/q). */
  share(project: string, queue: string, queuePath: string, document: unknown): SignedUrl {
    this.queues.checkName(queue);
    return shareQueue(document, { secret: this.secret, queuePath, project, now: this.clock.now() });
  }

  /** True when a presented pre-signed URL allows this request now. */
  verifySignature(presented: PresentedSignature): boolean {
    return verifySignature(presented, this.secret, this.clock.now());
  }

  /** True when every store answers (GET /v2/ping). */
  async isAlive(): Promise<boolean> {
    return [...(await this.readiness()).values()].every(Boolean);
  }

  /** Whether each store (by pool name; `default` alone without pooling) answers now. */
  async readiness(): Promise<Map<string, boolean>> {
    return new Map([...(await this.storeStates())].map(([name, state]) => [name, state === 'up']));
  }

  /**
   * Each store's state (by pool name): `up`; `full` when its last write failed for want of
   * space (its disk is full: posts are refused until a write succeeds again, while reads,
   * claims and deletes — which free space — go on); or `down` when it does not answer.
   */
  async storeStates(): Promise<Map<string, StoreState>> {
    const drivers = [...(await this.resolver.drivers())];
    const answers = await Promise.all(drivers.map(([, driver]) => driver.isAlive()));
    return new Map(
      drivers.map(([name, driver], i): [string, StoreState] => [
        name,
        driver.isFull?.() === true ? 'full' : answers[i] === true ? 'up' : 'down',
      ]),
    );
  }

  /**
   * Each store's reachability and the time its basic operations take, probed on a scratch queue
   * in a namespace no client can reach (Zaqar's health report).
   */
  async health(): Promise<Map<string, StorageHealth>> {
    const drivers = await this.resolver.drivers();
    const report = new Map<string, StorageHealth>();
    for (const [name, driver] of drivers) {
      const reachable = await driver.isAlive();
      report.set(name, {
        storage_reachable: reachable,
        ...(driver.isFull?.() === true ? { storage_full: true as const } : {}),
        operation_status: reachable ? await this.probe(driver) : {},
      });
    }
    return report;
  }

  /** Closes the stores: pending writes are finished and locks released. */
  close(): Promise<void> {
    return this.resolver.close();
  }

  private async probe(driver: DataDriver): Promise<Record<string, OperationStatus>> {
    const project = healthProject();
    const queue = `health-${newId(this.clock.now())}`;
    const status: Record<string, OperationStatus> = {};
    const time = async <T>(op: string, ref: string | null, fn: () => Promise<T>): Promise<T | undefined> => {
      const start = performance.now();
      try {
        const result = await fn();
        status[op] = { seconds: (performance.now() - start) / 1000, ref, succeeded: true };
        return result;
      } catch {
        status[op] = { seconds: (performance.now() - start) / 1000, ref, succeeded: false };
        return undefined;
      }
    };
    await time('create_queue', queue, () => driver.queues.create(project, queue, {}));
    const ids =
      (await time('post_messages', queue, () =>
        driver.messages.post(project, queue, [{ body: 'probe' }, { body: 'probe' }, { body: 'probe' }], 'health'),
      )) ?? [];
    await time('list_messages', queue, () => driver.messages.list(project, queue, { echo: true }));
    const claim = await time('claim_messages', queue, () => driver.claims.create(project, queue, { limit: 1 }));
    await time('delete_claim', claim?.id ?? null, () =>
      claim ? driver.claims.delete(project, queue, claim.id) : Promise.resolve(),
    );
    await time('delete_messages', ids[0] ?? null, () =>
      ids[0] ? driver.messages.delete(project, queue, ids[0]) : Promise.resolve(),
    );
    await time('bulk_delete_messages', queue, () => driver.messages.bulkDelete(project, queue, ids.slice(1)));
    await time('delete_queue', queue, () => driver.queues.delete(project, queue));
    return status;
  }
}
