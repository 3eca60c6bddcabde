import type pg from 'pg';
import {
  type Capability,
  type Claim,
  ClaimNotFoundError,
  type Clock,
  encodeValue,
  type GcReport,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  isId,
  type Message,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  newId,
  type ProjectId,
  type QueueMetadata,
  QueueNotFoundError,
  type QueueStats,
  type Subscription,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
} from '../../core/index.js';
import {
  ageSeconds,
  type ClaimTerms,
  type CreatedSubscription,
  deadLetterPolicy,
  type IdempotentPost,
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
import { ClaimBatcher } from './claim-batcher.js';
import { DeleteBatcher } from './delete-batcher.js';
import { Pipelines } from './pipelines.js';
import { PostBatcher } from './post-batcher.js';
import type { EncodedMessage } from './post-lanes.js';
import {
  fromUuid,
  type MessageRow,
  parseSeqMarker,
  type SubscriptionRow,
  toMessage,
  toSubscription,
  toUuid,
  withoutTakeReport,
} from './rows.js';
import { StatementRunner } from './statement-runner.js';
import { checkStorableText } from './storage-errors.js';

export interface PostgresEngineOptions {
  pool: pg.Pool;
  /** The schema, already quoted. */
  quotedSchema: string;
  clock: Clock;
  capabilities: ReadonlySet<Capability>;
  /** Most messages one group-committed post transaction carries. */
  postBatchMessages?: number;
  /** Told how long each round trip took, of dead-letter moves and of what gc expired (the server's metrics). */
  observer?: StoreObserver | null;
  /** Most body bytes one group-committed post transaction carries. */
  postBatchBytes?: number;
  /**
   * How to open connections of the engine's own for posts, in pipeline mode (see pipelines.ts).
   * Without it posts take pooled connections and one transaction per queue is in flight.
   */
  pipelineConfig?: pg.ClientConfig;
  /** How many pipelined connections posts are spread over, by queue (default 2). */
  pipelines?: number;
}

/** Rows fetched per round trip when a queue listing filters by metadata (done here, by the shared rule). */
const FILTER_SCAN_PAGE = 500;
/** How long isAlive waits for an answer. */
const ALIVE_TIMEOUT_MS = 3000;
/** Rows gc deletes per transaction. */
const GC_SLICE = 5000;
/** Bounds for dead-letter settings, so a huge number in metadata cannot overflow a column. */
const INT4_MAX = 2_147_483_647;

/** Post transactions of one queue sent at once over its pipelined connection. */
const POSTS_IN_FLIGHT = 3;

/**
 * The PostgreSQL engine. Every operation is one statement (or one call of a function the
 * migrations define; statements.ts says which), so one round trip and one implicit transaction;
 * time always comes from the Clock as a parameter. Posts, claims and deletes of one queue made
 * together go as one statement (post-batcher.ts, delete-batcher.ts; claims and the deletes with
 * claim ids made with them, claim-batcher.ts). See migrations/ for the schema and why it has the
 * shape it has.
 */
export class PostgresEngine implements StoreEngine {
  readonly kind = 'postgres';
  readonly capabilities: ReadonlySet<Capability>;
  private readonly clock: Clock;
  private readonly db: StatementRunner;
  private readonly posts: PostBatcher;
  private readonly claims: ClaimBatcher;
  private readonly deletes: DeleteBatcher;
  private readonly observer: StoreObserver | null;

  constructor(options: PostgresEngineOptions) {
    this.clock = options.clock;
    this.observer = options.observer ?? null;
    this.capabilities = options.capabilities;
    const pipelines = options.pipelineConfig ? new Pipelines(options.pipelineConfig, options.pipelines ?? 2) : null;
    this.db = new StatementRunner(options.pool, options.quotedSchema, pipelines, options.observer ?? null);
    this.posts = new PostBatcher(this.db, {
      maxMessages: options.postBatchMessages ?? 1000,
      maxBytes: options.postBatchBytes ?? 4 * 1024 * 1024,
      // Pipelined, a queue's next transaction waits on the server, not for a round trip.
      maxInFlight: pipelines ? POSTS_IN_FLIGHT : 1,
    });
    this.claims = new ClaimBatcher(this.db, this.observer);
    this.deletes = new DeleteBatcher(this.db);
  }

  // --- queues -------------------------------------------------------------------------------

  async createQueue(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<boolean> {
    checkStorableText(project, 'project');
    const result = await this.db.run('createQueue', [
      project,
      queue,
      JSON.stringify(metadata),
      ...policyColumns(metadata, queue),
      this.clock.now(),
    ]);
    return result.rowCount === 1;
  }

  async queueExists(project: ProjectId, queue: string): Promise<boolean> {
    checkStorableText(project, 'project');
    return (await this.db.run('queueExists', [project, queue])).rowCount === 1;
  }

  async getQueueMetadata(project: ProjectId, queue: string): Promise<QueueMetadata> {
    checkStorableText(project, 'project');
    const row = (await this.db.run<{ metadata: QueueMetadata }>('getQueueMetadata', [project, queue])).rows[0];
    if (!row) throw new QueueNotFoundError(project, queue);
    return row.metadata;
  }

  async setQueueMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void> {
    checkStorableText(project, 'project');
    const result = await this.db.run('setQueueMetadata', [
      project,
      queue,
      JSON.stringify(metadata),
      ...policyColumns(metadata, queue),
    ]);
    if (result.rowCount !== 1) throw new QueueNotFoundError(project, queue);
  }

  async deleteQueue(project: ProjectId, queue: string): Promise<void> {
    checkStorableText(project, 'project');
    await this.db.run('deleteQueue', [project, queue]);
  }

  async listQueues(project: ProjectId, query: QueueQuery): Promise<QueuePage> {
    checkStorableText(project, 'project');
    const name = query.name === null ? null : checkStorableText(query.name, 'name');
    if (query.marker !== null) checkStorableText(query.marker, 'marker');
    type Row = { name: string; metadata: QueueMetadata | null };
    const counting =
      query.withCount && query.filter === null
        ? this.db.run<{ count: number }>('countQueues', [project, name]).then((r) => r.rows[0]?.count ?? 0)
        : undefined;
    let page: Row[];
    if (query.filter === null) {
      page = (await this.db.run<Row>('listQueues', [project, query.marker, name, query.limit, query.detailed])).rows;
    } else {
      // Metadata filters follow the shared rule (semantics.ts), applied here to pages of rows.
      page = [];
      for await (const row of this.scanQueues(project, query.marker, name)) {
        if (queueMatches(row.name, row.metadata, null, query.filter)) page.push(row);
        if (page.length >= query.limit) break;
      }
    }
    let count: number | undefined;
    if (counting) count = await counting;
    else if (query.withCount) {
      count = 0;
      for await (const row of this.scanQueues(project, null, name)) {
        if (queueMatches(row.name, row.metadata, null, query.filter)) count++;
      }
    }
    const last = page[page.length - 1];
    return {
      queues: page.map((q) => (query.detailed ? { name: q.name, metadata: q.metadata ?? {} } : { name: q.name })),
      marker: last ? last.name : query.marker,
      ...(count !== undefined ? { count } : {}),
    };
  }

  async queueStats(project: ProjectId, queue: string): Promise<QueueStats> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    type Row = {
      total: number;
      claimed: number;
      delayed: number;
      oldest_id: string | null;
      oldest_created: number | null;
      newest_id: string | null;
      newest_created: number | null;
    };
    const row = (await this.db.run<Row>('queueStats', [project, queue, now])).rows[0];
    if (!row) throw new QueueNotFoundError(project, queue);
    const stamp = (id: string, createdAt: number) => ({ id: fromUuid(id), age: ageSeconds(now, createdAt), createdAt });
    return {
      claimed: row.claimed,
      free: row.total - row.claimed,
      delayed: row.delayed,
      total: row.total,
      ...(row.oldest_id !== null ? { oldest: stamp(row.oldest_id, row.oldest_created as number) } : {}),
      ...(row.newest_id !== null ? { newest: stamp(row.newest_id, row.newest_created as number) } : {}),
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
    checkStorableText(project, 'project');
    checkStorableText(clientId, 'clientId');
    drafts.forEach((d, i) => {
      if (d.checksum !== null) checkStorableText(d.checksum, `messages[${i}].checksum`);
    });
    const now = this.clock.now();
    const encoded: EncodedMessage[] = drafts.map((d) => ({
      id: newId(now),
      body: encodeValue(d.body),
      ttl: d.ttl,
      createdAt: now,
      expiresAt: now + d.ttl * 1000,
      visibleAt: now + d.delay * 1000,
      clientId,
      checksum: d.checksum,
    }));
    if (idempotency) return this.postIdempotent(project, queue, encoded, now, idempotency);
    await this.posts.post(project, queue, encoded, now);
    return encoded.map((m) => m.id);
  }

  /**
   * A post with an idempotency key, through its own lane: the keyed posts to one queue that
   * arrive together go as one transaction and one commit, each keeping its own answer.
   */
  private async postIdempotent(
    project: string,
    queue: string,
    messages: EncodedMessage[],
    now: number,
    idempotency: IdempotentPost,
  ): Promise<string[]> {
    const outcome = await this.posts.postKeyed(project, queue, messages, now, idempotency);
    if (outcome.status === 'reused') throw new IdempotencyKeyReusedError(queue, idempotency.key);
    if (outcome.status === 'repeat') idempotency.replayed();
    return outcome.ids;
  }

  async listMessages(project: ProjectId, queue: string, query: MessageQuery): Promise<MessagePage> {
    checkStorableText(project, 'project');
    const after = query.marker === null ? 0 : parseSeqMarker(query.marker);
    if (after === null) throw new InvalidArgumentError('marker', 'is not a marker this store made');
    const hideOwn = !query.echo && query.clientId !== null ? checkStorableText(query.clientId, 'clientId') : null;
    const now = this.clock.now();
    const rows = (
      await this.db.run<MessageRow>(
        'listMessages',
        [project, queue, after, now, query.includeClaimed, query.includeDelayed, hideOwn, query.limit],
        { project, queue },
      )
    ).rows;
    const last = rows[rows.length - 1];
    return { messages: rows.map((r) => toMessage(r, now)), marker: last ? String(last.seq) : query.marker };
  }

  async firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    const rows = (
      await this.db.run<MessageRow>(end === 'oldest' ? 'firstMessage' : 'lastMessage', [project, queue, now])
    ).rows;
    const row = rows[0];
    if (!row) throw new QueueNotFoundError(project, queue);
    return row.id === null ? null : toMessage(row, now);
  }

  async getMessage(project: ProjectId, queue: string, id: string): Promise<Message> {
    checkStorableText(project, 'project');
    const uuid = toUuid(id);
    if (uuid === null) throw new MessageNotFoundError(queue, id);
    const now = this.clock.now();
    const row = (await this.db.run<MessageRow>('getMessages', [project, queue, [uuid], now])).rows[0];
    if (!row) throw new MessageNotFoundError(queue, id);
    return toMessage(row, now);
  }

  async bulkGetMessages(project: ProjectId, queue: string, ids: string[]): Promise<Message[]> {
    checkStorableText(project, 'project');
    const wanted = ids.filter(isId);
    if (wanted.length === 0) return [];
    const now = this.clock.now();
    const rows = (await this.db.run<MessageRow>('getMessages', [project, queue, wanted, now])).rows;
    const byId = new Map(rows.map((r) => [fromUuid(r.id), r]));
    const found: Message[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (row) {
        byId.delete(id);
        found.push(toMessage(row, now));
      }
    }
    return found;
  }

  async deleteMessage(project: ProjectId, queue: string, id: string, claimId: string | null): Promise<boolean> {
    checkStorableText(project, 'project');
    const uuid = toUuid(id);
    if (uuid === null) return false;
    const row = await this.deletes.deleteOne(project, queue, {
      id: uuid,
      withClaim: claimId !== null,
      claim: claimId === null ? null : toUuid(claimId),
      now: this.clock.now(),
    });
    if (!row) return false;
    if (row.deleted) return true;
    if (claimId === null) throw new MessageClaimedError(id);
    if (!row.claimed) throw new MessageNotClaimedError(id);
    throw new MessageNotClaimedByError(id, claimId);
  }

  async bulkDeleteMessages(
    project: ProjectId,
    queue: string,
    ids: string[],
    claimIds: string[] | null,
  ): Promise<string[]> {
    checkStorableText(project, 'project');
    const wanted = [...new Set(ids.filter(isId))];
    const claims = claimIds === null ? null : claimIds.filter(isId);
    if (wanted.length === 0 || (claims !== null && claims.length === 0)) return [];
    // Deletes with claim ids go with the claims (a consumer finishing and claiming more).
    if (claims !== null) return this.claims.deleteClaimed(project, queue, wanted, claims, this.clock.now());
    return this.deletes.bulkDelete(project, queue, wanted, this.clock.now());
  }

  async popMessages(project: ProjectId, queue: string, limit: number): Promise<Message[]> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    const taken = withoutTakeReport(
      (await this.db.run<MessageRow>('takeMessages', [project, queue, now, limit, null, 0, 0])).rows,
    );
    if (taken.deadLettered > 0) this.observer?.deadLettered?.(project, queue, taken.deadLettered);
    // A pop counts as a claim of the message, as in Zaqar.
    return bySeq(taken.rows).map((r) => toMessage(r, now, 1));
  }

  // --- claims -------------------------------------------------------------------------------

  async createClaim(project: ProjectId, queue: string, terms: ClaimTerms & { limit: number }): Promise<Claim | null> {
    checkStorableText(project, 'project');
    const asked = this.clock.now();
    const id = newId(asked);
    const { rows, now } = await this.claims.claim(project, queue, {
      id,
      limit: terms.limit,
      ttl: terms.ttl,
      grace: terms.grace,
      now: asked,
    });
    if (rows.length === 0) return null;
    return {
      id,
      ttl: terms.ttl,
      grace: terms.grace,
      age: 0,
      updatedAt: now,
      expiresAt: now + terms.ttl * 1000,
      messages: bySeq(rows).map((r) => toMessage(r, now)),
    };
  }

  async getClaim(project: ProjectId, queue: string, claimId: string): Promise<Claim> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    type Row = MessageRow & {
      c_id: string | null;
      c_ttl: number;
      c_grace: number;
      c_updated: number;
      c_expires: number;
    };
    const rows = (await this.db.run<Row>('getClaim', [project, queue, toUuid(claimId), now])).rows;
    const head = rows[0];
    if (!head) throw new QueueNotFoundError(project, queue);
    if (head.c_id === null) throw new ClaimNotFoundError(queue, claimId);
    return {
      id: claimId,
      ttl: head.c_ttl,
      grace: head.c_grace,
      age: ageSeconds(now, head.c_updated),
      updatedAt: head.c_updated,
      expiresAt: head.c_expires,
      messages: rows.filter((r) => r.id !== null).map((r) => toMessage(r, now)),
    };
  }

  async updateClaim(project: ProjectId, queue: string, claimId: string, terms: ClaimTerms): Promise<void> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    const row = (
      await this.db.run<{ queues: number; claims: number }>('updateClaim', [
        project,
        queue,
        toUuid(claimId),
        terms.ttl,
        terms.grace,
        now,
        now + terms.ttl * 1000,
      ])
    ).rows[0];
    if (!row || row.queues === 0) throw new QueueNotFoundError(project, queue);
    if (row.claims === 0) throw new ClaimNotFoundError(queue, claimId);
  }

  async deleteClaim(project: ProjectId, queue: string, claimId: string): Promise<void> {
    checkStorableText(project, 'project');
    const uuid = toUuid(claimId);
    if (uuid === null) return;
    await this.db.run('deleteClaim', [project, queue, uuid]);
  }

  // --- subscriptions ------------------------------------------------------------------------

  async createSubscription(project: ProjectId, queue: string, draft: SubscriptionDraft): Promise<CreatedSubscription> {
    checkStorableText(project, 'project');
    checkStorableText(draft.subscriber, 'subscriber');
    const now = this.clock.now();
    const row = (
      await this.db.run<{ o_id: string; o_created: boolean }>(
        'createSubscription',
        [
          project,
          queue,
          now,
          newId(now),
          draft.subscriber,
          draft.ttl,
          now + draft.ttl * 1000,
          JSON.stringify(draft.options),
        ],
        { project, queue },
      )
    ).rows[0] as { o_id: string; o_created: boolean };
    return { id: fromUuid(row.o_id), created: row.o_created };
  }

  async listSubscriptions(
    project: ProjectId,
    queue: string,
    query: { marker: string | null; limit: number },
  ): Promise<SubscriptionPage> {
    checkStorableText(project, 'project');
    const after = query.marker === null ? 0 : parseSeqMarker(query.marker);
    if (after === null) throw new InvalidArgumentError('marker', 'is not a marker this store made');
    const now = this.clock.now();
    type Row = SubscriptionRow & { seq: number | null };
    const rows = (await this.db.run<Row>('listSubscriptions', [project, queue, after, now, query.limit])).rows;
    if (rows.length === 0) throw new QueueNotFoundError(project, queue);
    const live = rows.filter((r) => r.id !== null);
    const last = live[live.length - 1];
    return {
      subscriptions: live.map((r) => toSubscription(r, queue, now)),
      marker: last ? String(last.seq) : query.marker,
    };
  }

  async getSubscription(project: ProjectId, queue: string, id: string): Promise<Subscription> {
    const row = await this.findSubscription(project, queue, id);
    if (row.id === null) throw new SubscriptionNotFoundError(queue, id);
    return toSubscription(row, queue, this.clock.now());
  }

  async getSubscriptionBySubscriber(
    project: ProjectId,
    queue: string,
    subscriber: string,
  ): Promise<Subscription | null> {
    checkStorableText(project, 'project');
    checkStorableText(subscriber, 'subscriber');
    const now = this.clock.now();
    const row = (await this.db.run<SubscriptionRow>('getSubscriptionBySubscriber', [project, queue, subscriber, now]))
      .rows[0];
    if (!row) throw new QueueNotFoundError(project, queue);
    return row.id === null ? null : toSubscription(row, queue, now);
  }

  async subscriptionExists(project: ProjectId, queue: string, id: string): Promise<boolean> {
    if (!isId(id)) return false;
    try {
      return (await this.findSubscription(project, queue, id)).id !== null;
    } catch (error) {
      if (error instanceof QueueNotFoundError) return false;
      throw error;
    }
  }

  async updateSubscription(project: ProjectId, queue: string, id: string, changes: SubscriptionChanges): Promise<void> {
    checkStorableText(project, 'project');
    if (changes.subscriber !== undefined) checkStorableText(changes.subscriber, 'subscriber');
    const now = this.clock.now();
    const row = (
      await this.db.run<{ o_status: number; o_other: string | null }>('updateSubscription', [
        project,
        queue,
        toUuid(id),
        now,
        changes.subscriber ?? null,
        changes.ttl ?? null,
        changes.ttl === undefined ? null : now + changes.ttl * 1000,
        changes.options === undefined ? null : JSON.stringify(changes.options),
      ])
    ).rows[0] as { o_status: number; o_other: string | null };
    if (row.o_status === 1) throw new QueueNotFoundError(project, queue);
    if (row.o_status === 2) throw new SubscriptionNotFoundError(queue, id);
    if (row.o_status === 3) {
      throw new SubscriptionExistsError(queue, changes.subscriber as string, fromUuid(row.o_other ?? ''));
    }
  }

  async deleteSubscription(project: ProjectId, queue: string, id: string): Promise<void> {
    checkStorableText(project, 'project');
    const uuid = toUuid(id);
    if (uuid === null) return;
    await this.db.run('deleteSubscription', [project, queue, uuid]);
  }

  async confirmSubscription(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void> {
    checkStorableText(project, 'project');
    const now = this.clock.now();
    const row = (
      await this.db.run<{ queues: number; subscriptions: number }>('confirmSubscription', [
        project,
        queue,
        toUuid(id),
        now,
        confirmed,
      ])
    ).rows[0];
    if (!row || row.queues === 0) throw new QueueNotFoundError(project, queue);
    if (row.subscriptions === 0) throw new SubscriptionNotFoundError(queue, id);
  }

  // --- driver -------------------------------------------------------------------------------

  /** Answers within ALIVE_TIMEOUT_MS even when the server hangs; the probe itself ends at query_timeout. */
  async isAlive(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ALIVE_TIMEOUT_MS);
    });
    const probe = this.db.run('alive', []).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([probe, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async gc(): Promise<GcReport> {
    const now = this.clock.now();
    let messages = 0;
    for (;;) {
      type Row = { project: string | null; name: string | null; count: number };
      let removed = 0;
      for (const row of (await this.db.run<Row>('gcMessages', [now, GC_SLICE])).rows) {
        removed += row.count;
        if (row.project !== null && row.name !== null) this.observer?.expired?.(row.project, row.name, row.count);
      }
      messages += removed;
      if (removed < GC_SLICE) break;
    }
    const claims = (await this.db.run('gcClaims', [now])).rowCount ?? 0;
    const subscriptions = (await this.db.run('gcSubscriptions', [now])).rowCount ?? 0;
    // Expired idempotency keys go too; a GcReport counts only what clients could see.
    await this.db.run('gcIdempotencyKeys', [now]);
    return { messages, claims, subscriptions };
  }

  async close(): Promise<void> {
    // Let every call in flight finish (the guard admits no new ones), then hang up.
    await Promise.all([this.posts.whenIdle(), this.claims.whenIdle(), this.deletes.whenIdle()]);
    await this.db.close();
  }

  // --- helpers ------------------------------------------------------------------------------

  private async findSubscription(project: ProjectId, queue: string, id: string): Promise<SubscriptionRow> {
    checkStorableText(project, 'project');
    const row = (await this.db.run<SubscriptionRow>('getSubscription', [project, queue, toUuid(id), this.clock.now()]))
      .rows[0];
    if (!row) throw new QueueNotFoundError(project, queue);
    return row;
  }

  private async *scanQueues(
    project: ProjectId,
    after: string | null,
    name: string | null,
  ): AsyncGenerator<{ name: string; metadata: QueueMetadata }> {
    let marker = after;
    for (;;) {
      const rows = (
        await this.db.run<{ name: string; metadata: QueueMetadata }>('listQueues', [
          project,
          marker,
          name,
          FILTER_SCAN_PAGE,
          true,
        ])
      ).rows;
      yield* rows;
      if (rows.length < FILTER_SCAN_PAGE) return;
      marker = (rows[rows.length - 1] as { name: string }).name;
    }
  }
}

function bySeq(rows: MessageRow[]): MessageRow[] {
  return rows.sort((a, b) => a.seq - b.seq);
}

/** The dead-letter columns of a queue row, derived by the shared rule (semantics.ts). */
function policyColumns(metadata: QueueMetadata, queue: string): [number | null, string | null, number | null] {
  const policy = deadLetterPolicy(metadata, queue);
  if (!policy) return [null, null, null];
  checkStorableText(policy.queue, 'metadata._dead_letter_queue');
  return [
    Math.min(policy.maxClaimCount, INT4_MAX),
    policy.queue,
    policy.ttl === null ? null : Math.min(policy.ttl, INT4_MAX),
  ];
}
