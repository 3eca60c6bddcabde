import {
  type Claim,
  type Clock,
  InvalidArgumentError,
  ignoreMissing,
  isPlainObject,
  type Limits,
  type Message,
  type NewMessage,
  QUEUE_NAME_PATTERN,
  type QueueMetadata,
  QueueNotFoundError,
  type QueueStats,
  RESERVED_METADATA,
  ResourceNotFoundError,
  type Subscription,
  SubscriptionExistsError,
} from '../core/index.js';
import {
  type DataDriver,
  type MessagePage,
  type PostOptions,
  postFingerprint,
  type QueuePage,
  type SubscriptionPage,
} from '../store/contract/index.js';
import {
  checkCountParameter,
  readClaimTerms,
  readConfirmation,
  readMessagePost,
  readPurge,
  readSubscription,
} from './documents.js';
import type { DriverResolver } from './driver-resolver.js';
import { apiError, bodyError, RequestRefusedError, TITLES } from './errors.js';
import type { FairShare } from './fair-share.js';
import { isSealed, MessageCipher } from './message-cipher.js';
import type { MessageCounters } from './message-counters.js';
import { applyMetadataPatch, parseMetadataPatch } from './metadata-patch.js';
import { type ResourceKind, storeProject } from './namespaces.js';
import type { DeliveryCounts, NotificationHooks } from './notify/hooks.js';
import { bodySize, type QuotaBook, type QuotaRequest, type QuotaReservation } from './quota-book.js';
import {
  checkReservedMetadata,
  type PostTerms,
  postTerms,
  reservedDefaults,
  withReservedDefaults,
} from './reserved-metadata.js';

/** What a scope needs from the service around it. */
export interface ScopeSettings {
  resolver: DriverResolver;
  limits: Limits;
  clock: Clock;
  checksums: boolean;
  subscriberTypes: readonly string[];
  /** Subscription notifications (service/notify); none when the service has no notifier. */
  notifier?: NotificationHooks | undefined;
  /** Seals the bodies of queues with `_enable_encrypt_messages` and opens sealed ones; none: no keys. */
  cipher?: MessageCipher | undefined;
  /** Per-project quotas of queues (topics are not counted); none: no quotas. */
  quotas?: QuotaBook | undefined;
  /** Charged for every message posted (fair-share.ts); none: unlimited. */
  fairShare?: FairShare | undefined;
  /** Counts posts, claims and deletes (the server's metrics); none: nothing is counted. */
  counters?: MessageCounters | undefined;
  /** Zaqar's `message_delete_with_claim_id`: a delete by ids must name the claims holding them. */
  messageDeleteWithClaimId?: boolean | undefined;
}

/** What a delete by ids did: the ids deleted, and the others asked (gone, or not held by the claims named), in the order asked, once each. */
export interface MessageDeletion {
  deleted: string[];
  notDeleted: string[];
}

export interface ListQueuesQuery {
  marker?: string;
  limit?: number;
  detailed?: boolean;
  name?: string;
  withCount?: boolean;
  /** Metadata filters: only queues whose metadata has each key with an equal value. */
  filter?: Record<string, unknown>;
}

export interface ListMessagesQuery {
  marker?: string;
  limit?: number;
  echo?: boolean;
  includeClaimed?: boolean;
  includeDelayed?: boolean;
}

export interface CreatedSubscriptionResult {
  id: string;
  /** False when an unconfirmed subscription of the same subscriber was there already. */
  created: boolean;
}

/**
 * How long the post terms of a queue (its size limit and default ttl and delay) are reused
 * before its metadata is read again. Every post needs them; reading them costs as much as a
 * third of a small post. Changes made through this process apply at once (they drop the entry);
 * changes made through another server sharing the store apply within this time.
 */
const POST_TERMS_TTL_MS = 1000;
const POST_TERMS_MAX_ENTRIES = 10_000;

const EMPTY_STATS: QueueStats = Object.freeze({ claimed: 0, free: 0, delayed: 0, total: 0 }) as QueueStats;

/**
 * Everything the service does with one kind of queue-like resource — queues, or topics — in the
 * projects of that kind's namespace (see namespaces.ts). Methods take a checked project id and a
 * resource name, check everything else they are given, and reach storage only through the
 * resolver. Zaqar's lazy behaviours live here: posting or subscribing creates a missing queue,
 * reading a missing queue's messages, stats or subscriptions gives empty answers.
 */
export class ResourceScope {
  readonly kind: ResourceKind;
  private readonly settings: ScopeSettings;
  private readonly limits: Limits;
  private readonly resolver: DriverResolver;
  private readonly defaults: ReadonlyArray<readonly [string, unknown]>;
  private readonly reservedKeys: ReadonlySet<string>;
  private readonly termsCache = new Map<string, { terms: PostTerms; until: number }>();
  private readonly cipher: MessageCipher;
  private readonly quotas: QuotaBook | undefined;
  private readonly counters: MessageCounters | undefined;

  constructor(kind: ResourceKind, settings: ScopeSettings) {
    this.kind = kind;
    this.settings = settings;
    this.limits = settings.limits;
    this.resolver = settings.resolver;
    this.defaults = reservedDefaults(kind, settings.limits);
    // Without keys there is still a cipher: it seals nothing, but names the key of a sealed body it meets.
    this.cipher = settings.cipher ?? new MessageCipher();
    this.quotas = kind === 'queue' ? settings.quotas : undefined;
    this.counters = kind === 'queue' ? settings.counters : undefined;
    this.reservedKeys = new Set([
      ...reservedDefaults('queue', settings.limits).map(([key]) => key),
      '_flavor',
      '_retry_policy',
      RESERVED_METADATA.idempotencyWindow,
    ]);
  }

  /** Checks a queue (or topic) name: letters, digits, "_", "-", ".", at most 64 characters. */
  checkName(name: unknown): string {
    if (
      typeof name !== 'string' ||
      name.length === 0 ||
      name.length > this.limits.maxQueueNameLength ||
      !QUEUE_NAME_PATTERN.test(name)
    ) {
      throw new RequestRefusedError(
        `${this.kind}_name`,
        `The ${this.kind} name must be 1 to ${this.limits.maxQueueNameLength} characters of letters, digits, "_", "-" and ".".`,
        this.kind === 'queue' ? TITLES.queueIdentification : TITLES.topicIdentification,
      );
    }
    return name;
  }

  // --- queues -------------------------------------------------------------------------------

  async list(project: string, query: ListQueuesQuery = {}): Promise<QueuePage> {
    const limit = checkCountParameter(query.limit, 'limit', this.limits.maxQueuesPerPage);
    let page: QueuePage;
    try {
      page = await this.resolver.listQueues(storeProject(this.kind, project), {
        ...(query.marker !== undefined ? { marker: query.marker } : {}),
        ...(limit !== undefined ? { limit } : {}),
        detailed: query.detailed === true,
        ...(query.name !== undefined ? { name: query.name } : {}),
        ...(query.filter !== undefined ? { filter: query.filter } : {}),
        withCount: query.withCount === true,
      });
    } catch (error) {
      // A marker the store did not make points nowhere: an empty page, as Zaqar answers.
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { queues: [], marker: null };
      throw error;
    }
    if (query.detailed === true) {
      for (const queue of page.queues) queue.metadata = withReservedDefaults(queue.metadata ?? {}, this.defaults);
    }
    return page;
  }

  /** Creates the queue with `metadata` (no document: none); false when it existed (then nothing changes). */
  async create(project: string, name: string, metadata: unknown): Promise<boolean> {
    this.checkName(name);
    const document = metadata === undefined ? {} : metadata;
    if (!isPlainObject(document)) throw bodyError('body', `The ${this.kind} metadata must be a JSON object.`);
    checkReservedMetadata(document, this.limits);
    this.checkEncryptable(document, (field, text) => apiError(field, text));
    const driver = await this.driver(project, name);
    const reservation = await this.reserve(project, { queue: name });
    const created = await this.quotaBound(
      reservation,
      driver.queues.create(storeProject(this.kind, project), name, document),
    );
    this.metadataChanged(project, name);
    return created;
  }

  /** The queue's metadata, with the reserved keys' defaults filled in unless told not to (API v1.1). */
  async get(project: string, name: string, withDefaults = true): Promise<QueueMetadata> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    const metadata = await this.translate(name, driver.queues.getMetadata(storeProject(this.kind, project), name));
    return withDefaults ? withReservedDefaults(metadata, this.defaults) : metadata;
  }

  /** Applies a JSON-patch document to the metadata; returns the new metadata with defaults. */
  async patch(project: string, name: string, document: unknown): Promise<QueueMetadata> {
    this.checkName(name);
    const changes = parseMetadataPatch(document);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    const current = await this.translate(name, driver.queues.getMetadata(sp, name));
    const next = applyMetadataPatch(current, changes, this.reservedKeys);
    try {
      checkReservedMetadata(next, this.limits);
    } catch (error) {
      // Zaqar answers a patch that breaks a reserved key's rule as a bad body.
      if (error instanceof RequestRefusedError) throw bodyError(error.field, error.description);
      throw error;
    }
    this.checkEncryptable(next, (field, text) => bodyError(field, text));
    await this.translate(name, driver.queues.setMetadata(sp, name, next));
    this.metadataChanged(project, name);
    return withReservedDefaults(next, this.defaults);
  }

  async delete(project: string, name: string): Promise<void> {
    this.checkName(name);
    const sp = storeProject(this.kind, project);
    const driver = await this.driver(project, name);
    await driver.queues.delete(sp, name);
    this.quotas?.queueDeleted(project, name);
    this.metadataChanged(project, name);
    await this.resolver.queueDeleted?.(sp, name);
  }

  /** Counts of the queue's messages; zeros for a queue that does not exist. */
  async stats(project: string, name: string): Promise<QueueStats> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    return ignoreMissing(driver.queues.stats(storeProject(this.kind, project), name), EMPTY_STATS);
  }

  /** Deletes every message (claimed, delayed or not) and/or every subscription of the queue. */
  async purge(project: string, name: string, document: unknown): Promise<void> {
    this.checkName(name);
    const types = readPurge(document);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    if (types.has('messages')) {
      this.quotas?.deleted(project);
      const limit = this.limits.maxMessagesPerPage;
      for (;;) {
        const page = await ignoreMissing(
          driver.messages.list(sp, name, { limit, echo: true, includeClaimed: true, includeDelayed: true }),
          null,
        );
        if (page === null || page.messages.length === 0) break;
        await driver.messages.bulkDelete(
          sp,
          name,
          page.messages.map((m) => m.id),
        );
      }
    }
    if (types.has('subscriptions')) {
      for (;;) {
        const page = await ignoreMissing(
          driver.subscriptions.list(sp, name, { limit: this.limits.maxSubscriptionsPerPage }),
          null,
        );
        if (page === null || page.subscriptions.length === 0) break;
        for (const s of page.subscriptions) {
          await driver.subscriptions.delete(sp, name, s.id);
          this.settings.notifier?.removed(s.id);
        }
      }
      this.settings.notifier?.forget(this.kind, project, name);
    }
  }

  // --- messages -----------------------------------------------------------------------------

  /** What posting to this queue allows and defaults to, from its metadata (see POST_TERMS_TTL_MS). */
  async postTerms(project: string, name: string): Promise<PostTerms> {
    this.checkName(name);
    const key = termsKey(project, name);
    const now = this.settings.clock.now();
    const cached = this.termsCache.get(key);
    if (cached !== undefined && cached.until > now) return cached.terms;
    const driver = await this.driver(project, name);
    const metadata = await ignoreMissing(driver.queues.getMetadata(storeProject(this.kind, project), name), null);
    const terms = postTerms(metadata, this.limits);
    if (this.termsCache.size >= POST_TERMS_MAX_ENTRIES) this.termsCache.clear();
    this.termsCache.set(key, { terms, until: now + POST_TERMS_TTL_MS });
    return terms;
  }

  /**
   * Posts the messages of a `{"messages": [...]}` document, creating the queue when missing.
   * `terms` are those of postTerms() when the caller read them already (to check the body size
   * before reading the body).
   */
  async post(
    project: string,
    name: string,
    clientId: string,
    document: unknown,
    terms?: PostTerms,
    options?: PostOptions,
  ): Promise<string[]> {
    const knownTerms = terms ?? (await this.postTerms(project, name));
    const messages = readMessagePost(document, knownTerms, this.limits, this.settings.checksums);
    await this.settings.fairShare?.admitMessages(project, messages.length);
    const driver = await this.driver(project, name);
    // Subscribers' notifications are spooled while the messages are stored (Zaqar's notifier too
    // runs beside the store, before it), and both are durable before the post is answered. A
    // queue known to have no subscriptions costs nothing here (see Notifier.posted).
    const stored = this.sealed(name, messages, knownTerms.encrypt);
    // A repeat the store answers from its key stored nothing: no quota room, no count.
    let replayed = false;
    const postOptions = idempotentPost(options, messages, stored !== messages, () => {
      replayed = true;
    });
    // Before anything is written or spooled: a post over a quota writes nothing, and a batch is
    // reserved whole, so none of it is written either.
    const reserving = this.reserve(project, {
      queue: name,
      messages: stored.length,
      bytes: () => stored.reduce((sum, m) => sum + bodySize(m.body), 0),
    });
    const reservation = reserving instanceof Promise ? await reserving : reserving;
    const notified = this.settings.notifier?.posted(this.kind, project, name, messages);
    const posting = driver.messages.post(storeProject(this.kind, project), name, stored, clientId, postOptions);
    if (notified === undefined) {
      const ids = await this.quotaBound(reservation, posting, () => replayed);
      if (!replayed) this.counters?.posted(project, name, ids.length);
      return ids;
    }
    // Only a failed store write gives the room back: a failed spool leaves the messages stored.
    // A repeat is spooled again (notifications are at least once; the spool cannot wait for the
    // store to say whether it was a repeat without losing them to a crash in between).
    const [ids] = await Promise.all([this.quotaBound(reservation, posting, () => replayed), notified]);
    if (!replayed) this.counters?.posted(project, name, ids.length);
    return ids;
  }

  /** A page of messages, oldest first; empty for a missing queue or a marker that points nowhere. */
  async listMessages(
    project: string,
    name: string,
    clientId: string,
    query: ListMessagesQuery = {},
  ): Promise<MessagePage> {
    this.checkName(name);
    const limit = checkCountParameter(query.limit, 'limit', this.limits.maxMessagesPerPage);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    const metadata = await ignoreMissing(driver.queues.getMetadata(sp, name), null);
    if (metadata === null) return { messages: [], marker: null };
    // Zaqar filters delayed messages out of listings only in queues that have a default delay.
    const includeDelayed = query.includeDelayed === true || !postTerms(metadata, this.limits).hidesDelayed;
    try {
      return await this.openPage(
        name,
        ignoreMissing(
          driver.messages.list(sp, name, {
            ...(query.marker !== undefined ? { marker: query.marker } : {}),
            ...(limit !== undefined ? { limit } : {}),
            echo: query.echo === true,
            clientId,
            includeClaimed: query.includeClaimed === true,
            includeDelayed,
          }),
          { messages: [], marker: null },
        ),
      );
    } catch (error) {
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { messages: [], marker: null };
      throw error;
    }
  }

  /** The live messages among `ids`; unknown ones are left out. */
  async getMessages(project: string, name: string, ids: string[]): Promise<Message[]> {
    this.checkName(name);
    checkCountParameter(ids.length, 'ids', this.limits.maxMessagesPerPage);
    const driver = await this.driver(project, name);
    return this.opened(
      name,
      await ignoreMissing(driver.messages.bulkGet(storeProject(this.kind, project), name, ids), []),
    );
  }

  async getMessage(project: string, name: string, id: string): Promise<Message> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    return this.openOne(
      name,
      await this.translate(name, driver.messages.get(storeProject(this.kind, project), name, id)),
    );
  }

  /**
   * Deletes the listed messages, claimed or not, or with `claimIds` only those these live
   * claims hold, in one storage call; says which were deleted. Unknown ones and a missing queue
   * are fine. Zaqar's `message_delete_with_claim_id` refuses ids without claim ids
   * (zaqar/transport/validation.py message_deletion), with its text.
   */
  async deleteMessages(project: string, name: string, ids: string[], claimIds?: string[]): Promise<MessageDeletion> {
    this.checkName(name);
    checkCountParameter(ids.length, 'ids', this.limits.maxMessagesPerPage);
    if (claimIds === undefined && this.settings.messageDeleteWithClaimId === true) {
      throw apiError(
        'claim_ids',
        'The request should have both "ids" and "claim_ids" parameter in the request when message_delete_with_claim_id is True.',
      );
    }
    if (claimIds !== undefined) checkCountParameter(claimIds.length, 'claim_ids', this.limits.maxMessagesPerPage);
    const driver = await this.driver(project, name);
    const options = claimIds === undefined ? undefined : { claimIds };
    const deleted = await ignoreMissing(
      driver.messages.bulkDelete(storeProject(this.kind, project), name, ids, options),
      [],
    );
    this.quotas?.deleted(project);
    this.counters?.deleted(project, name, deleted.length);
    const gone = new Set(deleted);
    return { deleted, notDeleted: [...new Set(ids)].filter((id) => !gone.has(id)) };
  }

  /** Takes and deletes up to `count` of the oldest free messages. */
  async pop(project: string, name: string, count: number): Promise<Message[]> {
    this.checkName(name);
    checkCountParameter(count, 'pop', this.limits.maxMessagesPerClaimOrPop);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    const popped = await ignoreMissing(driver.messages.pop(sp, name, count), []);
    if (popped.length > 0) {
      this.quotas?.deleted(project);
      this.counters?.deleted(project, name, popped.length);
    }
    try {
      return this.opened(name, popped);
    } catch (error) {
      // Popping deleted them already: put back what cannot be served (as stored, with the time
      // it had left), so a missing key or a damaged body costs the client an error, not the messages.
      const now = this.settings.clock.now();
      for (const m of popped) {
        const ttl = Math.max(this.limits.minMessageTtl, Math.ceil((m.expiresAt - now) / 1000));
        const back: NewMessage = { body: m.body, ttl, ...(m.checksum !== undefined ? { checksum: m.checksum } : {}) };
        await driver.messages.post(sp, name, [back], m.clientId);
      }
      throw error;
    }
  }

  /** Deletes one message; a claimed one needs its claim id; fenced, one already gone is an error. */
  async deleteMessage(project: string, name: string, id: string, claimId?: string, fenced = false): Promise<void> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    const options = { ...(claimId === undefined ? {} : { claimId }), ...(fenced ? { fenced } : {}) };
    await this.translate(name, driver.messages.delete(storeProject(this.kind, project), name, id, options));
    this.quotas?.deleted(project);
    this.counters?.deleted(project, name, 1);
  }

  // --- claims -------------------------------------------------------------------------------

  /** Claims up to `limit` messages; null when none is free (or the queue does not exist). */
  async claim(project: string, name: string, document: unknown, limit?: number): Promise<Claim | null> {
    this.checkName(name);
    const terms = readClaimTerms(document, this.limits, false);
    const count = checkCountParameter(limit, 'limit', this.limits.maxMessagesPerClaimOrPop);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    const claim = await ignoreMissing(
      driver.claims.create(sp, name, {
        ...terms,
        ...(count !== undefined ? { limit: count } : {}),
      }),
      null,
    );
    if (claim === null) return null;
    this.counters?.claimed(project, name, claim.messages.length);
    try {
      return this.openClaim(name, claim);
    } catch (error) {
      // A claim whose messages cannot be served is released: nobody holds them for nothing.
      await ignoreMissing(driver.claims.delete(sp, name, claim.id), undefined);
      throw error;
    }
  }

  async getClaim(project: string, name: string, claimId: string): Promise<Claim> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    return this.openClaim(
      name,
      await this.translate(name, driver.claims.get(storeProject(this.kind, project), name, claimId)),
    );
  }

  /** Renews a claim with the document's ttl and grace. */
  async updateClaim(project: string, name: string, claimId: string, document: unknown): Promise<void> {
    this.checkName(name);
    const terms = readClaimTerms(document, this.limits, true);
    const driver = await this.driver(project, name);
    await this.translate(name, driver.claims.update(storeProject(this.kind, project), name, claimId, terms));
  }

  /** Releases a claim; unknown claims and queues are fine. */
  async releaseClaim(project: string, name: string, claimId: string): Promise<void> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    await ignoreMissing(driver.claims.delete(storeProject(this.kind, project), name, claimId), undefined);
  }

  // --- subscriptions ------------------------------------------------------------------------

  async listSubscriptions(
    project: string,
    name: string,
    query: { marker?: string; limit?: number } = {},
  ): Promise<SubscriptionPage> {
    this.checkName(name);
    const limit = checkCountParameter(query.limit, 'limit', this.limits.maxSubscriptionsPerPage);
    const driver = await this.driver(project, name);
    try {
      return await ignoreMissing(
        driver.subscriptions.list(storeProject(this.kind, project), name, {
          ...(query.marker !== undefined ? { marker: query.marker } : {}),
          ...(limit !== undefined ? { limit } : {}),
        }),
        { subscriptions: [], marker: null },
      );
    } catch (error) {
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { subscriptions: [], marker: null };
      throw error;
    }
  }

  /**
   * Subscribes, creating the queue when missing. Subscribing again an unconfirmed subscriber
   * gives its id back; subscribing again a confirmed one is a conflict (SubscriptionExistsError).
   */
  async subscribe(
    project: string,
    name: string,
    document: unknown,
    how: { confirmed?: boolean } = {},
  ): Promise<CreatedSubscriptionResult> {
    this.checkName(name);
    const sub = readSubscription(document, this.limits, this.settings.subscriberTypes, true);
    const subscriber = sub.subscriber as string;
    const notifier = this.settings.notifier;
    // Before anything is written: a refused subscriber creates neither queue nor subscription. A
    // socket subscribing itself names this server's own endpoint, which the server chose.
    if (how.confirmed !== true) await notifier?.checkSubscriber?.(subscriber);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    const reservation = await this.reserve(project, { queue: name });
    await this.quotaBound(reservation, driver.queues.create(sp, name, {}));
    if (notifier && notifier.maxSubscriptionsPerQueue > 0) await this.checkRoom(driver, sp, name, subscriber, notifier);
    const result = await driver.subscriptions.create(sp, name, subscriber, {
      ...(sub.ttl !== undefined ? { ttl: sub.ttl } : {}),
      ...(sub.options !== undefined ? { options: sub.options } : {}),
    });
    // A subscriber that subscribes itself (a WebSocket) needs no confirmation request.
    if (how.confirmed === true) await driver.subscriptions.confirm(sp, name, result.id, true);
    if (!notifier) {
      if (!result.created) {
        const existing = await this.translate(name, driver.subscriptions.get(sp, name, result.id));
        if (existing.confirmed) throw new SubscriptionExistsError(name, subscriber, result.id);
      }
      return result;
    }
    const made = await this.translate(name, driver.subscriptions.get(sp, name, result.id));
    if (!result.created && made.confirmed && how.confirmed !== true) {
      throw new SubscriptionExistsError(name, subscriber, result.id);
    }
    if (made.confirmed) notifier.forget(this.kind, project, name);
    else await notifier.subscribed(this.kind, project, name, made);
    return result;
  }

  /** Refuses a new subscriber when the queue has as many subscriptions as a queue may have. */
  private async checkRoom(
    driver: DataDriver,
    sp: string,
    name: string,
    subscriber: string,
    notifier: NotificationHooks,
  ): Promise<void> {
    const max = notifier.maxSubscriptionsPerQueue;
    let count = 0;
    let marker: string | undefined;
    for (;;) {
      const page = await driver.subscriptions.list(sp, name, {
        limit: driver.limits.maxSubscriptionsPerPage,
        ...(marker !== undefined ? { marker } : {}),
      });
      count += page.subscriptions.length;
      if (count >= max || page.subscriptions.length === 0 || page.marker === null || page.marker === marker) break;
      marker = page.marker;
    }
    if (count < max) return;
    if ((await driver.subscriptions.getBySubscriber(sp, name, subscriber)) !== null) return;
    throw apiError(
      'subscriber',
      `The ${this.kind} ${name} has ${max} subscriptions, the most a ${this.kind} may have; delete one first.`,
    );
  }

  async getSubscription(project: string, name: string, id: string): Promise<Subscription> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    return this.translate(name, driver.subscriptions.get(storeProject(this.kind, project), name, id));
  }

  /** The subscription's notifications delivered, pending and failed; null when the service sends none. */
  deliveryCounts(id: string): DeliveryCounts | null {
    return this.settings.notifier?.counts(id) ?? null;
  }

  /** Changes a subscription's subscriber, ttl (counted from now) or options. */
  async updateSubscription(project: string, name: string, id: string, document: unknown): Promise<void> {
    this.checkName(name);
    const changes = readSubscription(document, this.limits, this.settings.subscriberTypes, false);
    if (changes.subscriber !== undefined) await this.settings.notifier?.checkSubscriber?.(changes.subscriber);
    const driver = await this.driver(project, name);
    await this.translate(name, driver.subscriptions.update(storeProject(this.kind, project), name, id, changes));
    this.settings.notifier?.forget(this.kind, project, name);
  }

  async unsubscribe(project: string, name: string, id: string): Promise<void> {
    this.checkName(name);
    const driver = await this.driver(project, name);
    await ignoreMissing(driver.subscriptions.delete(storeProject(this.kind, project), name, id), undefined);
    this.settings.notifier?.forget(this.kind, project, name);
    this.settings.notifier?.removed(id);
  }

  /** Confirms (`{"confirmed": true}`) or unconfirms a subscription. */
  async confirmSubscription(project: string, name: string, id: string, document: unknown): Promise<void> {
    this.checkName(name);
    const confirmed = readConfirmation(document);
    const driver = await this.driver(project, name);
    const sp = storeProject(this.kind, project);
    await this.translate(name, driver.subscriptions.confirm(sp, name, id, confirmed));
    const notifier = this.settings.notifier;
    if (!notifier) return;
    notifier.forget(this.kind, project, name);
    if (!confirmed) await notifier.unconfirmed(this.kind, project, name, await driver.subscriptions.get(sp, name, id));
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Room for a write under the project's quotas (QuotaExceededError when there is none); null: none apply. */
  private reserve(project: string, request: QuotaRequest): QuotaReservation | null | Promise<QuotaReservation | null> {
    return this.quotas === undefined ? null : this.quotas.reserve(project, request);
  }

  /** The write's answer; its reservation is kept when it succeeds and given back when it fails. */
  private async quotaBound<T>(
    reservation: QuotaReservation | null,
    write: Promise<T>,
    storedNothing: () => boolean = () => false,
  ): Promise<T> {
    if (reservation === null) return write;
    const quotas = this.quotas as QuotaBook;
    try {
      const result = await write;
      if (storedNothing()) quotas.release(reservation);
      else quotas.commit(reservation);
      return result;
    } catch (error) {
      quotas.release(reservation);
      throw error;
    }
  }

  /**
   * Refuses `_enable_encrypt_messages: true` when there is no key to seal with: a flag silently
   * ignored would store in plain text what the client asked to keep secret.
   */
  private checkEncryptable(metadata: QueueMetadata, refuse: (field: string, text: string) => Error): void {
    const key = '_enable_encrypt_messages';
    if (metadata[key] === true && !this.cipher.canSeal) {
      throw refuse(key, `${key} needs encryption at rest, and this server has no [encryption] key configured.`);
    }
  }

  /** What the store is given: the messages with sealed bodies when the queue encrypts. */
  private sealed(name: string, messages: NewMessage[], encrypt: boolean): NewMessage[] {
    if (encrypt) return messages.map((m) => ({ ...m, body: this.cipher.seal(m.body, name) }));
    for (let i = 0; i < messages.length; i++) {
      // A plain byte body that looks like an envelope would be read back as one: refuse it.
      if (isSealed(messages[i]?.body)) {
        throw bodyError(
          `messages[${i}].body`,
          `Message ${i}'s body starts with bytes Posthorn reserves for encrypted bodies.`,
        );
      }
    }
    return messages;
  }

  private openOne(name: string, message: Message): Message {
    if (!isSealed(message.body)) return message;
    return { ...message, body: this.cipher.open(message.body, name, message.id) };
  }

  private opened(name: string, messages: Message[]): Message[] {
    return messages.map((m) => this.openOne(name, m));
  }

  private async openPage(name: string, page: Promise<MessagePage>): Promise<MessagePage> {
    const got = await page;
    return { ...got, messages: this.opened(name, got.messages) };
  }

  private openClaim(name: string, claim: Claim): Claim {
    return { ...claim, messages: this.opened(name, claim.messages) };
  }

  /** Drops what this process keeps of a queue's metadata: its post terms and the notifier's view. */
  private metadataChanged(project: string, name: string): void {
    this.termsCache.delete(termsKey(project, name));
    this.settings.notifier?.forget(this.kind, project, name);
  }

  private driver(project: string, name: string): DataDriver | Promise<DataDriver> {
    return this.resolver.forQueue(storeProject(this.kind, project), name);
  }

  /** The answer of `operation`, or `fallback` when the queue does not exist. */
  /**
   * Passes errors through, but says "topic" for a missing topic: the store only knows queues,
   * and its error would name the namespaced project. Queues pass the operation as it is.
   */
  private translate<T>(name: string, operation: Promise<T>): Promise<T> {
    if (this.kind === 'queue') return operation;
    return operation.catch((error: unknown) => {
      if (error instanceof QueueNotFoundError) throw new ResourceNotFoundError('topic', name, { cause: error });
      throw error;
    });
  }
}

function termsKey(project: string, name: string): string {
  return `${project}/${name}`;
}

/**
 * The store's post options for a post with an idempotency key. When the bodies were sealed (a
 * fresh IV each time), the key is bound to the fingerprint of what the client sent, so a
 * repeat matches its first post and is not taken for another.
 */
function idempotentPost(
  options: PostOptions | undefined,
  sent: NewMessage[],
  sealed: boolean,
  onReplay: () => void,
): PostOptions | undefined {
  if (options?.idempotencyKey === undefined) return undefined;
  if (!sealed) return { idempotencyKey: options.idempotencyKey, onReplay };
  const fingerprint = postFingerprint(sent.map((m) => ({ body: m.body, ttl: m.ttl ?? 0, delay: m.delay ?? 0 })));
  return { idempotencyKey: options.idempotencyKey, fingerprint, onReplay };
}
