import { randomBytes } from 'node:crypto';
import {
  type Capability,
  type Claim,
  ClaimNotFoundError,
  type Clock,
  decodeValue,
  encodeValue,
  type GcReport,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  type Message,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  newId,
  type ProjectId,
  type QueueInfo,
  type QueueMetadata,
  QueueNotFoundError,
  type QueueStats,
  StorageUnavailableError,
  type Subscription,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
} from '../../core/index.js';
import {
  ageSeconds,
  type ClaimTerms,
  type CreatedSubscription,
  DEFAULT_IDEMPOTENCY_WINDOW,
  deadLetterPolicy,
  type IdempotentPost,
  idempotencyWindow,
  type MessageDraft,
  type MessagePage,
  type MessageQuery,
  type QueuePage,
  type QueueQuery,
  queueMatches,
  type StoreEngine,
  type StoreObserver,
  type SubscriptionChanges,
  type SubscriptionDraft,
  type SubscriptionPage,
} from '../contract/index.js';
import { isWellFormed, KeyLayout } from './key-layout.js';
import type { RedisConnection } from './redis-connection.js';

/** MessagePack of `{}`: the metadata of a queue made by a post or a dead-letter move. */
const EMPTY_METADATA = encodeValue({});
/** Items per message in a script reply (see scripts.ts). */
const MESSAGE_ITEMS = 12;
/** Items per subscription in a script reply. */
const SUBSCRIPTION_ITEMS = 8;
/** Messages removed per script call when gc or a queue delete works through many. */
const BATCH = 500;

type Reply = unknown[];

/**
 * The storage engine over Redis. Every change is one Lua script (lua/), so it is atomic
 * even with many Posthorn processes sharing the Redis; reads that span several queues (listing
 * queues, gc) are plain commands and see each queue at its own instant.
 */
export class RedisEngine implements StoreEngine {
  readonly kind = 'redis';
  /** Projects this process has put in the projects set already, so a post costs no extra command. */
  private readonly registered = new Set<ProjectId>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly keys: KeyLayout,
    private readonly clock: Clock,
    readonly capabilities: ReadonlySet<Capability>,
    /** Told of dead-letter moves and expiries (counted by the claim and pop scripts, and by gc). */
    private readonly observer: StoreObserver | null = null,
  ) {}

  // --- queues -------------------------------------------------------------------------------

  async createQueue(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<boolean> {
    await this.register(project);
    const created = await this.connection.script(
      'phQueueCreate',
      [this.keys.queueBase(project, queue), this.keys.queueIndex(project)],
      [queue, encodeValue(metadata), ...policyArgs(metadata, queue), idempotencyWindow(metadata)],
    );
    return created === 1;
  }

  async queueExists(project: ProjectId, queue: string): Promise<boolean> {
    const base = this.keys.queueBase(project, queue);
    return (await this.connection.run((c) => c.exists(base))) === 1;
  }

  async getQueueMetadata(project: ProjectId, queue: string): Promise<QueueMetadata> {
    const base = this.keys.queueBase(project, queue);
    const bytes = await this.connection.run((c) => c.hgetBuffer(base, 'meta'));
    if (bytes === null) throw new QueueNotFoundError(project, queue);
    return decodeValue(bytes) as QueueMetadata;
  }

  async setQueueMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void> {
    const done = await this.connection.script(
      'phQueueSetMetadata',
      [this.keys.queueBase(project, queue)],
      [encodeValue(metadata), ...policyArgs(metadata, queue), idempotencyWindow(metadata)],
    );
    if (done === -1) throw new QueueNotFoundError(project, queue);
  }

  async deleteQueue(project: ProjectId, queue: string): Promise<void> {
    const trash = `${this.keys.projectBase(project)}trash:${randomBytes(8).toString('hex')}`;
    const result = await this.connection.script(
      'phQueueDelete',
      [this.keys.queueBase(project, queue), this.keys.queueIndex(project), this.keys.trashIndex(project)],
      [queue, trash],
    );
    if (result === 2) await this.purgeTrash(this.keys.trashIndex(project), trash);
  }

  async listQueues(project: ProjectId, query: QueueQuery): Promise<QueuePage> {
    const index = this.keys.queueIndex(project);
    const after = query.marker;
    const filtered = query.name !== null || query.filter !== null;
    let page: QueueInfo[];
    let count: number | undefined;
    if (!filtered) {
      // Names come straight from the index in lexical order; metadata only when asked for.
      const names = await this.connection.run((c) =>
        c.zrangebylex(index, after === null ? '-' : `(${after}`, '+', 'LIMIT', 0, query.limit),
      );
      const metas = query.detailed ? await this.metadataOf(project, names) : null;
      page = [];
      names.forEach((name, i) => {
        const meta = metas?.[i];
        if (metas && meta === null) return; // deleted since the index was read
        page.push(meta ? { name, metadata: meta } : { name });
      });
      if (query.withCount) count = await this.connection.run((c) => c.zcard(index));
    } else {
      // Filters need every name (and metadata for a metadata filter), as Zaqar's own drivers do.
      const names = (await this.connection.run((c) => c.zrange(index, '0', '-1'))).filter(
        (name) => query.name === null || name.includes(query.name),
      );
      const needMeta = query.filter !== null || query.detailed;
      const metas = needMeta ? await this.metadataOf(project, names) : null;
      const matching: QueueInfo[] = [];
      names.forEach((name, i) => {
        const meta = metas?.[i];
        if (metas && meta == null) return;
        if (!queueMatches(name, meta ?? {}, query.name, query.filter)) return;
        matching.push(query.detailed && meta ? { name, metadata: meta } : { name });
      });
      page = (after === null ? matching : matching.filter((q) => q.name > after)).slice(0, query.limit);
      count = matching.length;
    }
    const last = page[page.length - 1];
    return { queues: page, marker: last ? last.name : after, ...(query.withCount ? { count } : {}) };
  }

  async queueStats(project: ProjectId, queue: string): Promise<QueueStats> {
    const now = this.clock.now();
    const reply = (await this.connection.script('phQueueStats', [this.keys.queueBase(project, queue)], [now])) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    const [, total, claimed, delayed, oldestId, oldestAt, newestId, newestAt] = reply as [
      number,
      number,
      number,
      number,
      Buffer | null,
      Buffer | null,
      Buffer | null,
      Buffer | null,
    ];
    const stamp = (id: Buffer | null, at: Buffer | null) => {
      if (id === null || at === null) return null;
      const createdAt = Number(at.toString());
      return { id: id.toString(), age: ageSeconds(now, createdAt), createdAt };
    };
    const oldest = stamp(oldestId, oldestAt);
    const newest = stamp(newestId, newestAt);
    return {
      claimed,
      free: total - claimed,
      delayed,
      total,
      ...(oldest ? { oldest } : {}),
      ...(newest ? { newest } : {}),
    };
  }

  // --- messages -----------------------------------------------------------------------------

  async postMessages(
    project: ProjectId,
    queue: string,
    drafts: MessageDraft[],
    clientId: string,
    idempotency: IdempotentPost | null,
  ): Promise<string[]> {
    // Encode every body before anything is sent, so a body that cannot be encoded leaves nothing.
    const bodies = drafts.map((d) => encodeValue(d.body));
    await this.register(project);
    const now = this.clock.now();
    const ids = drafts.map(() => newId(now));
    const args: (string | number | Buffer)[] = [
      now,
      queue,
      EMPTY_METADATA,
      clientId,
      drafts.length,
      idempotency?.key ?? '',
      idempotency?.fingerprint ?? '',
      DEFAULT_IDEMPOTENCY_WINDOW,
    ];
    drafts.forEach((d, i) => {
      args.push(ids[i] as string, bodies[i] as Buffer, d.ttl, d.delay, d.checksum ?? '');
    });
    const reply = await this.connection.script(
      'phPost',
      [this.keys.queueBase(project, queue), this.keys.queueIndex(project)],
      args,
    );
    if (Array.isArray(reply)) {
      if (reply[0] === -2) throw new IdempotencyKeyReusedError(queue, idempotency?.key ?? '');
      idempotency?.replayed();
      return String(reply[1]).split(',');
    }
    return ids;
  }

  async listMessages(project: ProjectId, queue: string, query: MessageQuery): Promise<MessagePage> {
    const marker = query.marker === null ? '' : String(parseSeqMarker(query.marker));
    const now = this.clock.now();
    const hide = !query.echo && query.clientId !== null;
    const reply = (await this.connection.script(
      'phList',
      [this.keys.queueBase(project, queue)],
      [
        now,
        marker,
        query.limit,
        hide ? '1' : '0',
        query.clientId ?? '',
        query.includeClaimed ? '1' : '0',
        query.includeDelayed ? '1' : '0',
      ],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    const last = reply[1] as Buffer | null;
    return {
      messages: readMessages(reply, 2, now),
      marker: last === null ? query.marker : last.toString(),
    };
  }

  async firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null> {
    const now = this.clock.now();
    const reply = (await this.connection.script('phFirst', [this.keys.queueBase(project, queue)], [now, end])) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    return readMessages(reply, 1, now)[0] ?? null;
  }

  async getMessage(project: ProjectId, queue: string, id: string): Promise<Message> {
    const found = await this.bulkGetMessages(project, queue, [id]);
    if (found.length === 0) throw new MessageNotFoundError(queue, id);
    return found[0] as Message;
  }

  async bulkGetMessages(project: ProjectId, queue: string, ids: string[]): Promise<Message[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phGet',
      [this.keys.queueBase(project, queue)],
      [now, ...unique],
    )) as Reply;
    return readMessages(reply, 1, now);
  }

  async deleteMessage(project: ProjectId, queue: string, id: string, claimId: string | null): Promise<boolean> {
    const outcome = await this.connection.script(
      'phDelete',
      [this.keys.queueBase(project, queue)],
      [this.clock.now(), id, claimId ?? ''],
    );
    if (outcome === 1) throw new MessageClaimedError(id);
    if (outcome === 2) throw new MessageNotClaimedError(id);
    if (outcome === 3) throw new MessageNotClaimedByError(id, claimId as string);
    return outcome !== 4;
  }

  async bulkDeleteMessages(
    project: ProjectId,
    queue: string,
    ids: string[],
    claimIds: string[] | null,
  ): Promise<string[]> {
    if (ids.length === 0) return [];
    const gone = (await this.connection.script(
      'phBulkDelete',
      [this.keys.queueBase(project, queue)],
      [this.clock.now(), ids.length, claimIds === null ? '0' : '1', ...ids, ...(claimIds ?? [])],
    )) as unknown[];
    // Replies come as buffers (bodies are binary); the script removes each id once.
    return gone.map((id) => String(id));
  }

  async popMessages(project: ProjectId, queue: string, limit: number): Promise<Message[]> {
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phPop',
      [this.keys.queueBase(project, queue)],
      [now, limit, this.keys.projectBase(project), EMPTY_METADATA],
    )) as Reply;
    this.taken(project, queue, reply[1], reply[2]);
    return readMessages(reply, 3, now);
  }

  // --- claims -------------------------------------------------------------------------------

  async createClaim(project: ProjectId, queue: string, terms: ClaimTerms & { limit: number }): Promise<Claim | null> {
    const now = this.clock.now();
    const id = newId(now);
    const reply = (await this.connection.script(
      'phClaim',
      [this.keys.queueBase(project, queue)],
      [now, id, terms.ttl, terms.grace, terms.limit, this.keys.projectBase(project), EMPTY_METADATA],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    this.taken(project, queue, reply[1], reply[2]);
    if (reply[0] === 0) return null;
    return {
      id,
      ttl: terms.ttl,
      grace: terms.grace,
      age: 0,
      updatedAt: now,
      expiresAt: now + terms.ttl * 1000,
      messages: readMessages(reply, 3, now),
    };
  }

  async getClaim(project: ProjectId, queue: string, claimId: string): Promise<Claim> {
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phClaimGet',
      [this.keys.queueBase(project, queue)],
      [now, claimId],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    if (reply[0] === -2) throw new ClaimNotFoundError(queue, claimId);
    const updatedAt = num(reply[3]);
    return {
      id: claimId,
      ttl: num(reply[1]),
      grace: num(reply[2]),
      age: ageSeconds(now, updatedAt),
      updatedAt,
      expiresAt: num(reply[4]),
      messages: readMessages(reply, 5, now),
    };
  }

  async updateClaim(project: ProjectId, queue: string, claimId: string, terms: ClaimTerms): Promise<void> {
    const outcome = await this.connection.script(
      'phClaimUpdate',
      [this.keys.queueBase(project, queue)],
      [this.clock.now(), claimId, terms.ttl, terms.grace],
    );
    if (outcome === -1) throw new QueueNotFoundError(project, queue);
    if (outcome === -2) throw new ClaimNotFoundError(queue, claimId);
  }

  async deleteClaim(project: ProjectId, queue: string, claimId: string): Promise<void> {
    await this.connection.script('phClaimDelete', [this.keys.queueBase(project, queue)], [this.clock.now(), claimId]);
  }

  // --- subscriptions ------------------------------------------------------------------------

  async createSubscription(project: ProjectId, queue: string, draft: SubscriptionDraft): Promise<CreatedSubscription> {
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phSubCreate',
      [this.keys.queueBase(project, queue)],
      [now, newId(now), draft.subscriber, draft.ttl, encodeValue(draft.options)],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    return { id: text(reply[1]) as string, created: reply[0] === 1 };
  }

  async listSubscriptions(
    project: ProjectId,
    queue: string,
    query: { marker: string | null; limit: number },
  ): Promise<SubscriptionPage> {
    const marker = query.marker === null ? '' : String(parseSeqMarker(query.marker));
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phSubList',
      [this.keys.queueBase(project, queue)],
      [now, marker, query.limit],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    const subscriptions: Subscription[] = [];
    let lastSeq: string | null = null;
    for (let i = 1; i + SUBSCRIPTION_ITEMS <= reply.length; i += SUBSCRIPTION_ITEMS) {
      subscriptions.push(toSubscription(queue, reply, i, now));
      lastSeq = text(reply[i + 1]);
    }
    return { subscriptions, marker: lastSeq ?? query.marker };
  }

  async getSubscription(project: ProjectId, queue: string, id: string): Promise<Subscription> {
    const found = await this.findSubscription(project, queue, id, 'id');
    if (!found) throw new SubscriptionNotFoundError(queue, id);
    return found;
  }

  async getSubscriptionBySubscriber(
    project: ProjectId,
    queue: string,
    subscriber: string,
  ): Promise<Subscription | null> {
    return this.findSubscription(project, queue, subscriber, 'subscriber');
  }

  async subscriptionExists(project: ProjectId, queue: string, id: string): Promise<boolean> {
    try {
      return (await this.findSubscription(project, queue, id, 'id')) !== null;
    } catch (error) {
      if (error instanceof QueueNotFoundError) return false;
      throw error;
    }
  }

  async updateSubscription(project: ProjectId, queue: string, id: string, changes: SubscriptionChanges): Promise<void> {
    const reply = (await this.connection.script(
      'phSubUpdate',
      [this.keys.queueBase(project, queue)],
      [
        this.clock.now(),
        id,
        changes.subscriber ?? '',
        changes.ttl ?? '',
        changes.options === undefined ? '0' : '1',
        changes.options === undefined ? '' : encodeValue(changes.options),
      ],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    if (reply[0] === -2) throw new SubscriptionNotFoundError(queue, id);
    if (reply[0] === -3) {
      throw new SubscriptionExistsError(queue, changes.subscriber as string, text(reply[1]) as string);
    }
  }

  async deleteSubscription(project: ProjectId, queue: string, id: string): Promise<void> {
    await this.connection.script('phSubDelete', [this.keys.queueBase(project, queue)], [id]);
  }

  async confirmSubscription(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void> {
    const outcome = await this.connection.script(
      'phSubConfirm',
      [this.keys.queueBase(project, queue)],
      [this.clock.now(), id, confirmed ? '1' : '0'],
    );
    if (outcome === -1) throw new QueueNotFoundError(project, queue);
    if (outcome === -2) throw new SubscriptionNotFoundError(queue, id);
  }

  // --- driver -------------------------------------------------------------------------------

  async isAlive(): Promise<boolean> {
    return this.connection.ping(1000);
  }

  /**
   * Walks every project and queue, reclaiming expired messages (in batches, so Redis is never
   * blocked long), claims and subscriptions, and finishes queue deletes an earlier process left
   * half done. Claims and pops also reclaim expired messages they meet on their way.
   */
  async gc(): Promise<GcReport> {
    const report: GcReport = { messages: 0, claims: 0, subscriptions: 0 };
    let cursor = '0';
    do {
      const [next, tags] = await this.connection.run((c) => c.sscan(this.keys.projects, cursor, 'COUNT', 100));
      cursor = next;
      for (const tag of tags) {
        const pbase = this.keys.tagBase(tag);
        const project = KeyLayout.projectOfTag(tag);
        const queues = await this.connection.run((c) => c.zrange(`${pbase}queues`, '0', '-1'));
        for (const queue of queues) {
          const base = `${pbase}q:${KeyLayout.queuePart(queue)}`;
          let expired = 0;
          for (;;) {
            const [messages, claims, subscriptions, more] = (await this.connection.script(
              'phGc',
              [base],
              [this.clock.now(), BATCH],
            )) as number[];
            expired += messages ?? 0;
            report.claims += claims ?? 0;
            report.subscriptions += subscriptions ?? 0;
            if (more !== 1) break;
          }
          report.messages += expired;
          if (expired > 0) this.observer?.expired?.(project, queue, expired);
        }
        const trash = `${pbase}trash`;
        for (const key of await this.connection.run((c) => c.hkeys(trash))) await this.purgeTrash(trash, key);
      }
    } while (cursor !== '0');
    return report;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Tells the observer what a claim or pop script dead-lettered and expired on its way (as it replied them). */
  private taken(project: ProjectId, queue: string, deadLettered: unknown, expired: unknown): void {
    const moved = deadLettered == null ? 0 : num(deadLettered);
    if (moved > 0) this.observer?.deadLettered?.(project, queue, moved);
    const gone = expired == null ? 0 : num(expired);
    if (gone > 0) this.observer?.expired?.(project, queue, gone);
  }

  /** Puts the project in the projects set gc walks; once per project and process. */
  private async register(project: ProjectId): Promise<void> {
    if (this.registered.has(project)) return;
    await this.connection.run((c) => c.sadd(this.keys.projects, this.keys.projectTag(project)));
    this.registered.add(project);
  }

  private async purgeTrash(index: string, trash: string): Promise<void> {
    while ((await this.connection.script('phPurgeTrash', [trash, index], [BATCH])) !== 0);
  }

  private async metadataOf(project: ProjectId, names: string[]): Promise<(QueueMetadata | null)[]> {
    if (names.length === 0) return [];
    const bases = names.map((name) => this.keys.queueBase(project, name));
    // Every key of a project shares one slot, so one pipeline reaches one node, even on a cluster.
    const replies = await this.connection.run(async (c) => {
      const pipeline = c.pipeline();
      for (const base of bases) pipeline.hgetBuffer(base, 'meta');
      return (await pipeline.exec()) ?? [];
    });
    return replies.map(([error, bytes]) => {
      if (error) throw new StorageUnavailableError(`Redis HGET failed: ${error.message}`, { cause: error });
      return bytes === null ? null : (decodeValue(bytes as Buffer) as QueueMetadata);
    });
  }

  private async findSubscription(
    project: ProjectId,
    queue: string,
    key: string,
    by: 'id' | 'subscriber',
  ): Promise<Subscription | null> {
    const now = this.clock.now();
    const reply = (await this.connection.script(
      'phSubGet',
      [this.keys.queueBase(project, queue)],
      [now, key, by],
    )) as Reply;
    if (reply[0] === -1) throw new QueueNotFoundError(project, queue);
    if (reply[0] === -2) return null;
    return toSubscription(queue, reply, 1, now);
  }
}

/** The dead-letter policy as the claim script reads it: queue name, its key part, max count, ttl. */
function policyArgs(metadata: QueueMetadata, queue: string): string[] {
  const policy = deadLetterPolicy(metadata, queue);
  // A name with lone surrogates would change on its way into the queue index: no such queue.
  if (!policy || !isWellFormed(policy.queue)) return ['', '', '', ''];
  return [policy.queue, KeyLayout.queuePart(policy.queue), String(policy.maxClaimCount), policy.ttl?.toString() ?? ''];
}

function parseSeqMarker(marker: string): number {
  if (!/^\d{1,15}$/.test(marker)) throw new InvalidArgumentError('marker', 'is not a marker this store made');
  return Number(marker);
}

function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value instanceof Uint8Array) return Number(Buffer.from(value).toString());
  return Number(value);
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return Buffer.isBuffer(value) ? value.toString() : String(value);
}

/** Messages laid out as in scripts.ts, from `start` to the end of the reply. */
function readMessages(reply: Reply, start: number, now: number): Message[] {
  const messages: Message[] = [];
  for (let i = start; i + MESSAGE_ITEMS <= reply.length; i += MESSAGE_ITEMS) {
    const claimId = text(reply[i + 7]);
    const claimEnd = reply[i + 8] == null ? 0 : num(reply[i + 8]);
    const claimed = claimId !== null && claimId !== '' && claimEnd > now;
    const createdAt = num(reply[i + 4]);
    const checksum = text(reply[i + 11]);
    messages.push({
      id: text(reply[i]) as string,
      body: decodeValue(reply[i + 2] as Buffer),
      ttl: num(reply[i + 3]),
      age: ageSeconds(now, createdAt),
      createdAt,
      expiresAt: num(reply[i + 5]),
      visibleAt: num(reply[i + 6]),
      claimId: claimed ? claimId : null,
      claimExpiresAt: claimed ? claimEnd : null,
      claimCount: num(reply[i + 9]),
      clientId: text(reply[i + 10]) ?? '',
      ...(checksum !== null ? { checksum } : {}),
    });
  }
  return messages;
}

/** A subscription laid out as id, seq, subscriber, ttl, created, expires, options, confirmed. */
function toSubscription(queue: string, reply: Reply, i: number, now: number): Subscription {
  const createdAt = num(reply[i + 4]);
  return {
    id: text(reply[i]) as string,
    source: queue,
    subscriber: text(reply[i + 2]) as string,
    ttl: num(reply[i + 3]),
    age: ageSeconds(now, createdAt),
    createdAt,
    expiresAt: num(reply[i + 5]),
    options: decodeValue(reply[i + 6] as Buffer) as Record<string, unknown>,
    confirmed: text(reply[i + 7]) === '1',
  };
}
