import {
  type Capability,
  type Claim,
  type Clock,
  encodeValue,
  type GcReport,
  type Message,
  newId,
  type ProjectId,
  type QueueMetadata,
  type QueueStats,
  type Subscription,
} from '../../core/index.js';
import type {
  ClaimTerms,
  CreatedSubscription,
  IdempotentPost,
  MessageDraft,
  MessagePage,
  MessageQuery,
  QueuePage,
  QueueQuery,
  StoreEngine,
  SubscriptionChanges,
  SubscriptionDraft,
  SubscriptionPage,
} from '../contract/index.js';
import type { Effect, PostedMessage } from './effects.js';
import type { Row, StoreState } from './store-state.js';

/**
 * The StoreEngine of every columnar store. It plans each change on the StoreState, hands the
 * effect to `commit` (the memory store applies it; the disk store logs it, applies it and waits
 * for the fsync), and turns rows into Messages with the bodies `loadBodies` fetches. Reads wait
 * for `settled()`, so nobody sees a change before it is as durable as the store promises.
 */
export abstract class ColumnarEngine implements StoreEngine {
  abstract readonly kind: string;
  abstract readonly capabilities: ReadonlySet<Capability>;
  protected abstract readonly state: StoreState;

  constructor(protected readonly clock: Clock) {}

  /**
   * Makes the effect happen. Not an async function: it applies the effect to the state before it
   * returns (or throws, changing nothing, when the store refuses it — full, failed), and the
   * promise it returns resolves once the effect is durable. For a post, `bodies` holds each
   * message's encoded body, and commit sets each message's `ref`.
   */
  protected abstract commit(effect: Effect, bodies?: Buffer[]): Promise<void>;
  /** The decoded bodies of these rows, in order. */
  protected abstract loadBodies(rows: Row[]): unknown[];
  /** Resolves once every change applied so far is durable. */
  protected abstract settled(): Promise<void>;
  /** Throws if the store cannot serve now (closed, failed). */
  protected abstract ready(): Promise<void>;

  abstract isAlive(): Promise<boolean>;
  abstract gc(): Promise<GcReport>;
  abstract close(): Promise<void>;

  protected messages(rows: Row[], now: number): Message[] {
    const bodies = this.loadBodies(rows);
    return rows.map((row, k) => this.state.message(row, bodies[k], now));
  }

  /** Runs a read against the state, then waits until what it saw is durable. */
  protected async read<T>(reader: (now: number) => T): Promise<T> {
    await this.ready();
    const result = reader(this.clock.now());
    await this.settled();
    return result;
  }

  // --- queues -------------------------------------------------------------------------------

  async createQueue(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<boolean> {
    await this.ready();
    if (this.state.find(project, queue)) {
      await this.settled();
      return false;
    }
    await this.commit({ type: 'queueCreate', project, queue, metadata });
    return true;
  }

  queueExists(project: ProjectId, queue: string): Promise<boolean> {
    return this.read(() => this.state.find(project, queue) !== undefined);
  }

  getQueueMetadata(project: ProjectId, queue: string): Promise<QueueMetadata> {
    return this.read(() => structuredClone(this.state.need(project, queue).metadata));
  }

  async setQueueMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void> {
    await this.ready();
    this.state.need(project, queue);
    await this.commit({ type: 'queueMetadataSet', project, queue, metadata });
  }

  async deleteQueue(project: ProjectId, queue: string): Promise<void> {
    await this.ready();
    if (!this.state.find(project, queue)) return this.settled();
    await this.commit({ type: 'queueDelete', project, queue });
  }

  listQueues(project: ProjectId, query: QueueQuery): Promise<QueuePage> {
    return this.read(() => this.state.listQueues(project, query));
  }

  queueStats(project: ProjectId, queue: string): Promise<QueueStats> {
    return this.read((now) => this.state.stats(project, queue, now));
  }

  // --- messages -----------------------------------------------------------------------------

  async postMessages(
    project: ProjectId,
    queue: string,
    drafts: MessageDraft[],
    clientId: string,
    idempotency: IdempotentPost | null,
  ): Promise<string[]> {
    await this.ready();
    // One pass makes each body's bytes and the message the effect carries (no closures: this
    // runs for every message posted).
    const n = drafts.length;
    const bodies = new Array<Buffer>(n);
    const posted = new Array<PostedMessage>(n);
    for (let k = 0; k < n; k++) {
      const d = drafts[k] as MessageDraft;
      const body = encodeValue(d.body);
      bodies[k] = body;
      posted[k] = { ttl: d.ttl, delay: d.delay, checksum: d.checksum, length: body.length, ref: 0 };
    }
    const now = this.clock.now();
    if (idempotency) {
      // Plan and apply happen in one turn, so a repeat racing the first post finds its key
      // applied already; it answers once that post is durable, as the first one does.
      let remembered: string[] | null;
      try {
        remembered = this.state.rememberedPost(project, queue, idempotency, now);
      } catch (error) {
        await this.settled();
        throw error;
      }
      if (remembered) {
        await this.settled();
        idempotency.replayed();
        return remembered;
      }
    }
    const effect = this.state.planPost(project, queue, clientId, now, posted, idempotency);
    await this.commit(effect, bodies);
    const ids = new Array<string>(n);
    for (let k = 0; k < n; k++) ids[k] = this.state.ids.format(effect.seq + k);
    return ids;
  }

  listMessages(project: ProjectId, queue: string, query: MessageQuery): Promise<MessagePage> {
    return this.read((now) => {
      const { rows, marker } = this.state.listMessages(project, queue, query, now);
      return { messages: this.messages(rows, now), marker };
    });
  }

  firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null> {
    return this.read((now) => {
      const row = this.state.firstMessage(project, queue, end, now);
      return row ? (this.messages([row], now)[0] as Message) : null;
    });
  }

  getMessage(project: ProjectId, queue: string, id: string): Promise<Message> {
    return this.read((now) => this.messages([this.state.needRow(project, queue, id, now)], now)[0] as Message);
  }

  bulkGetMessages(project: ProjectId, queue: string, ids: string[]): Promise<Message[]> {
    return this.read((now) => this.messages(this.state.bulkRows(project, queue, ids, now), now));
  }

  async deleteMessage(project: ProjectId, queue: string, id: string, claimId: string | null): Promise<boolean> {
    await this.ready();
    const effect = this.state.planDeleteMessage(project, queue, id, claimId, this.clock.now());
    if (effect) await this.commit(effect);
    else await this.settled();
    return effect !== null;
  }

  async bulkDeleteMessages(
    project: ProjectId,
    queue: string,
    ids: string[],
    claimIds: string[] | null,
  ): Promise<string[]> {
    await this.ready();
    const { effect, deleted } = this.state.planBulkDelete(project, queue, ids, claimIds, this.clock.now());
    if (effect) await this.commit(effect);
    else await this.settled();
    return deleted;
  }

  async popMessages(project: ProjectId, queue: string, limit: number): Promise<Message[]> {
    await this.ready();
    const now = this.clock.now();
    const effect = this.state.planPop(project, queue, limit, now);
    if (!effect) {
      await this.settled();
      return [];
    }
    // Read the bodies before the effect frees them.
    const q = this.state.find(project, queue);
    const rows: Row[] = q ? effect.orders.map((order) => ({ queue: q, i: q.cols.find(order) })) : [];
    const popped = this.messages(rows, now).map((m) => ({ ...m, claimCount: m.claimCount + 1 }));
    await this.commit(effect);
    return popped;
  }

  // --- claims -------------------------------------------------------------------------------

  async createClaim(project: ProjectId, queue: string, terms: ClaimTerms & { limit: number }): Promise<Claim | null> {
    await this.ready();
    const now = this.clock.now();
    const effect = this.state.planClaim(project, queue, newId(now), terms, terms.limit, now);
    if (!effect) {
      await this.settled();
      return null;
    }
    // commit applies at once; read then, so the messages come back claimed, with their new lives.
    const durable = this.commit(effect);
    if (effect.orders.length === 0) {
      await durable;
      return null;
    }
    const { claim, rows } = this.state.claim(project, queue, effect.id, now);
    const view = this.state.claimView(claim, this.messages(rows, now), now);
    await durable;
    return view;
  }

  getClaim(project: ProjectId, queue: string, claimId: string): Promise<Claim> {
    return this.read((now) => {
      const { claim, rows } = this.state.claim(project, queue, claimId, now);
      return this.state.claimView(claim, this.messages(rows, now), now);
    });
  }

  async updateClaim(project: ProjectId, queue: string, claimId: string, terms: ClaimTerms): Promise<void> {
    await this.ready();
    const now = this.clock.now();
    this.state.claim(project, queue, claimId, now); // throws when it does not exist
    await this.commit({ type: 'claimUpdate', project, queue, id: claimId, ttl: terms.ttl, grace: terms.grace, now });
  }

  async deleteClaim(project: ProjectId, queue: string, claimId: string): Promise<void> {
    await this.ready();
    const q = this.state.find(project, queue);
    if (!q?.claimNums.has(claimId)) return this.settled();
    await this.commit({ type: 'claimDelete', project, queue, id: claimId });
  }

  // --- subscriptions ------------------------------------------------------------------------

  async createSubscription(project: ProjectId, queue: string, draft: SubscriptionDraft): Promise<CreatedSubscription> {
    await this.ready();
    const now = this.clock.now();
    const plan = this.state.planSubscriptionCreate(project, queue, draft, newId(now), now);
    if ('existing' in plan) {
      await this.settled();
      return { id: plan.existing, created: false };
    }
    await this.commit(plan.effect);
    return { id: (plan.effect as { id: string }).id, created: true };
  }

  listSubscriptions(
    project: ProjectId,
    queue: string,
    query: { marker: string | null; limit: number },
  ): Promise<SubscriptionPage> {
    return this.read((now) => this.state.listSubscriptions(project, queue, query.marker, query.limit, now));
  }

  getSubscription(project: ProjectId, queue: string, id: string): Promise<Subscription> {
    return this.read((now) => this.state.subscription(project, queue, id, now));
  }

  getSubscriptionBySubscriber(project: ProjectId, queue: string, subscriber: string): Promise<Subscription | null> {
    return this.read((now) => {
      const q = this.state.need(project, queue);
      const s = q.liveSubscriber(subscriber, now);
      return s ? this.state.subscriptionView(q, s, now) : null;
    });
  }

  subscriptionExists(project: ProjectId, queue: string, id: string): Promise<boolean> {
    return this.read((now) => {
      const s = this.state.find(project, queue)?.subscriptions.get(id);
      return s !== undefined && s.expiresAt > now;
    });
  }

  async updateSubscription(project: ProjectId, queue: string, id: string, changes: SubscriptionChanges): Promise<void> {
    await this.ready();
    await this.commit(this.state.planSubscriptionUpdate(project, queue, id, changes, this.clock.now()));
  }

  async deleteSubscription(project: ProjectId, queue: string, id: string): Promise<void> {
    await this.ready();
    if (!this.state.find(project, queue)?.subscriptions.has(id)) return this.settled();
    await this.commit({ type: 'subscriptionDelete', project, queue, id });
  }

  async confirmSubscription(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void> {
    await this.ready();
    this.state.subscription(project, queue, id, this.clock.now()); // throws when it does not exist
    await this.commit({ type: 'subscriptionConfirm', project, queue, id, confirmed });
  }
}
