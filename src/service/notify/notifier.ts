import { mkdirSync } from 'node:fs';
import {
  type Clock,
  type Limits,
  LockedError,
  type Logger,
  LogThrottle,
  type NewMessage,
  QueueNotFoundError,
  type Subscription,
  SubscriptionNotFoundError,
  stderrLogger,
  systemClock,
  type Timer,
} from '../../core/index.js';
import type { Bounce, DeliveryJob, DeliveryReport, RecipientOutcome } from '../../spool/index.js';
import { Spool } from '../../spool/index.js';
import type { DriverResolver } from '../driver-resolver.js';
import { isSealed, type MessageCipher } from '../message-cipher.js';
import type { ResourceKind } from '../namespaces.js';
import { formatExpires, signUrl } from '../signed-urls.js';
import { decodeBatch, type NotificationBatch, parseRecipient, type SpooledSubscription } from './batch.js';
import { DeliveryLedger } from './delivery-ledger.js';
import type { DestinationPolicy } from './destination-policy.js';
import type { DeliveryCounts, NotificationHooks } from './hooks.js';
import type { SmtpRelay } from './mail-sender.js';
import { NotificationDispatch } from './notification-dispatch.js';
import {
  type ConfirmationType,
  confirmationPayload,
  notificationPayload,
  type Payload,
  payloadJson,
} from './payloads.js';
import { MAX_SLOTS, notificationSlot } from './slots.js';
import { SpoolBatcher } from './spool-batcher.js';
import { SubscriptionTargets } from './subscription-targets.js';
import { failed, type PairOutcome, PERMANENT, tryLater } from './webhook-sender.js';

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

const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
const PRUNE_EVERY_MS = 3_600_000;
/** A spooled message's delivery may take this long before the spool gives up on the attempt. */
const JOB_TIMEOUT_MS = 600_000;
/** Failed notifications are logged at most this often (a line with how many). */
const WARN_EVERY_MS = 10_000;

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
 * This class is the facade: a queue's subscriptions come from SubscriptionTargets (cached per
 * queue, see subscriptionCacheMs), and each subscriber is reached by its scheme through
 * NotificationDispatch.
 */
export class Notifier implements NotificationHooks {
  readonly requireConfirmation: boolean;
  readonly maxSubscriptionsPerQueue: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly targets: SubscriptionTargets;
  private readonly dispatch: NotificationDispatch;
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
    this.targets = new SubscriptionTargets(options.resolver, this.clock, options.subscriptionCacheMs ?? 1000);
    this.dispatch = new NotificationDispatch({
      timeoutMs: this.webhookTimeoutMs,
      webhookConnections: options.webhookConnections ?? 32,
      clock: this.clock,
      ...(options.smtp ? { smtp: options.smtp } : {}),
      ...(options.destinations ? { destinations: options.destinations } : {}),
      ...(options.ownOrigins ? { ownOrigins: options.ownOrigins } : {}),
    });
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
    if (this.targets.knownEmpty(kind, project, queue)) return undefined;
    return this.notifyPosted(kind, project, queue, messages);
  }

  forget(kind: ResourceKind, project: string, queue: string): void {
    this.targets.forget(kind, project, queue);
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

  /** Refuses a webhook subscriber the destination policy denies (see NotificationDispatch). */
  checkSubscriber(subscriber: string): Promise<void> {
    return this.dispatch.checkSubscriber(subscriber);
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
      await this.dispatch.close();
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
    const targets = await this.targets.of(kind, project, queue);
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
    const metadata = await this.targets.queueMetadata(kind, project, queue);
    await this.batcher.add([payload], [this.targets.targetOf(kind, project, subscription, metadata)]);
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
        const now = await this.targets.current(s.kind, s.project, s.source, s.id);
        s = { ...s, subscriber: now.subscriber, options: now.options, expiresAt: now.expiresAt };
      } catch (error) {
        if (error instanceof QueueNotFoundError || error instanceof SubscriptionNotFoundError) {
          return all(failed('the subscription no longer exists'));
        }
        return all(tryLater(`the subscription could not be read: ${(error as Error).message}`));
      }
    }
    if (s.expiresAt <= this.clock.now()) return all(failed('the subscription expired'));
    const dispatch = this.dispatch.to(s, batch, jsonOf);
    if (!('send' in dispatch)) return all(dispatch);
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
        const outcome = await dispatch.send(item);
        settle(item, outcome);
        if (outcome.status === 'delivered') delivered++;
        else {
          example ??= outcome;
          if (outcome.status === 'failed') lost++;
          else retried++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(dispatch.lanes, items.length) }, lane));
    this.count(s, delivered, lost);
    if (example !== null) this.logFailedAttempt(s, dispatch.where, retried, lost, example);
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
