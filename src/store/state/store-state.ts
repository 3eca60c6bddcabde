import {
  type Claim,
  ClaimNotFoundError,
  type GcReport,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  type Message,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
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
  deadLetterPolicy,
  type IdempotentPost,
  idempotencyWindow,
  type MessageQuery,
  type QueuePage,
  type QueueQuery,
  queueMatches,
  type StoreObserver,
  type SubscriptionChanges,
  type SubscriptionDraft,
} from '../contract/index.js';
import type { ClaimCreate, Effect, MessagesDelete, Move, Pop, Post, PostedMessage } from './effects.js';
import { FLAG_BODY_CRC, FLAG_CHECKSUM, FLAG_MOVED, NO_CLAIM } from './message-columns.js';
import type { MessageIdCodec } from './message-ids.js';
import { type ClaimRecord, QueueState, type SubscriptionRecord } from './queue-state.js';

/** Called when a message's body is no longer needed (deleted, expired, its queue deleted). */
export type BodyFreed = (ref: number, len: number) => void;

/** A message row found by a read: the engine loads its body and turns it into a Message. */
export interface Row {
  queue: QueueState;
  i: number;
}

/**
 * The state of a columnar store (memory or disk): projects, queues, messages in columns,
 * claims and subscriptions, with Zaqar's semantics. It does no I/O. Changes go through plans
 * (`plan*`: read the state, check the rules, return an Effect or throw a typed error, change
 * nothing observable) and `apply` (make the change). Reads return rows; bodies are the
 * engine's business.
 */
export class StoreState {
  readonly projects = new Map<string, Map<string, QueueState>>();
  /** The last sequence number handed out (message ids and order keys). */
  seq = 0;
  readonly clients: string[] = [];
  private readonly clientIndex = new Map<string, number>();
  /**
   * Told of dead-letter moves and expired messages. Set only once a store has replayed its log,
   * so moves replayed at open are not counted again.
   */
  observer: StoreObserver | null = null;

  constructor(
    readonly ids: MessageIdCodec,
    private readonly bodyFreed: BodyFreed = () => {},
  ) {}

  // --- lookups ------------------------------------------------------------------------------

  find(project: string, queue: string): QueueState | undefined {
    return this.projects.get(project)?.get(queue);
  }

  need(project: string, queue: string): QueueState {
    const q = this.find(project, queue);
    if (!q) throw new QueueNotFoundError(project, queue);
    return q;
  }

  *queues(): IterableIterator<QueueState> {
    for (const queues of this.projects.values()) yield* queues.values();
  }

  internClient(client: string): number {
    let index = this.clientIndex.get(client);
    if (index === undefined) {
      index = this.clients.length;
      this.clients.push(client);
      this.clientIndex.set(client, index);
    }
    return index;
  }

  // --- queue reads --------------------------------------------------------------------------

  listQueues(project: string, query: QueueQuery): QueuePage {
    const queues = this.projects.get(project);
    const matching = queues
      ? [...queues.values()]
          .filter((q) => queueMatches(q.name, q.metadata, query.name, query.filter))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      : [];
    const after = query.marker;
    const page = (after === null ? matching : matching.filter((q) => q.name > after)).slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      queues: page.map((q) =>
        query.detailed ? { name: q.name, metadata: structuredClone(q.metadata) } : { name: q.name },
      ),
      marker: last ? last.name : after,
      ...(query.withCount ? { count: matching.length } : {}),
    };
  }

  stats(project: string, queue: string, now: number): QueueStats {
    const q = this.need(project, queue);
    const c = q.cols;
    let total = 0;
    let claimed = 0;
    let delayed = 0;
    let oldest = -1;
    let newest = -1;
    for (let i = 0; i < c.length; i++) {
      if (c.isRemoved(i) || (c.expires[i] as number) <= now) continue;
      total++;
      if (oldest < 0) oldest = i;
      newest = i;
      if (q.isClaimed(i, now)) claimed++;
      else if (q.visibleAt(i) > now) delayed++;
    }
    const stamp = (i: number) => ({
      id: this.ids.format(q.idSeqOf(i)),
      age: ageSeconds(now, c.created[i] as number),
      createdAt: c.created[i] as number,
    });
    return {
      claimed,
      free: total - claimed,
      delayed,
      total,
      ...(oldest >= 0 ? { oldest: stamp(oldest), newest: stamp(newest) } : {}),
    };
  }

  // --- message reads ------------------------------------------------------------------------

  listMessages(
    project: string,
    queue: string,
    query: MessageQuery,
    now: number,
  ): { rows: Row[]; marker: string | null } {
    const q = this.need(project, queue);
    const c = q.cols;
    let start = 0;
    if (query.marker !== null) {
      if (!/^\d{1,16}$/.test(query.marker)) throw new InvalidArgumentError('marker', 'is not a marker this store made');
      start = c.indexAfter(Number(query.marker));
    }
    const own = !query.echo && query.clientId !== null ? this.clientIndex.get(query.clientId) : undefined;
    const rows: Row[] = [];
    let last = -1;
    for (let i = start; i < c.length && rows.length < query.limit; i++) {
      if (c.isRemoved(i) || (c.expires[i] as number) <= now) continue;
      if (!query.includeClaimed && q.isClaimed(i, now)) continue;
      if (!query.includeDelayed && q.visibleAt(i) > now) continue;
      if (own !== undefined && c.client[i] === own) continue;
      rows.push({ queue: q, i });
      last = i;
    }
    return { rows, marker: last >= 0 ? String(c.order[last]) : query.marker };
  }

  firstMessage(project: string, queue: string, end: 'oldest' | 'newest', now: number): Row | null {
    const q = this.need(project, queue);
    const c = q.cols;
    const live = (i: number) => !c.isRemoved(i) && (c.expires[i] as number) > now;
    if (end === 'oldest') {
      for (let i = 0; i < c.length; i++) if (live(i)) return { queue: q, i };
    } else {
      for (let i = c.length - 1; i >= 0; i--) if (live(i)) return { queue: q, i };
    }
    return null;
  }

  /** The live message with this id, or null. */
  row(project: string, queue: string, id: string, now: number): Row | null {
    const q = this.find(project, queue);
    if (!q) return null;
    const seq = this.ids.parse(id);
    if (seq < 0) return null;
    const i = q.rowOfId(seq);
    if (i < 0 || (q.cols.expires[i] as number) <= now) return null;
    return { queue: q, i };
  }

  needRow(project: string, queue: string, id: string, now: number): Row {
    const row = this.row(project, queue, id, now);
    if (!row) throw new MessageNotFoundError(queue, id);
    return row;
  }

  bulkRows(project: string, queue: string, ids: string[], now: number): Row[] {
    const seen = new Set<string>();
    const rows: Row[] = [];
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const row = this.row(project, queue, id, now);
      if (row) rows.push(row);
    }
    return rows;
  }

  /** A Message of row i with the body the engine loaded. */
  message(row: Row, body: unknown, now: number): Message {
    const { queue: q, i } = row;
    const c = q.cols;
    const claim = q.claimOf(i, now);
    const order = c.order[i] as number;
    const created = c.created[i] as number;
    const message: Message = {
      id: this.ids.format(q.idSeqOf(i)),
      body,
      ttl: c.ttl[i] as number,
      age: ageSeconds(now, created),
      createdAt: created,
      expiresAt: c.expires[i] as number,
      visibleAt: q.visibleAt(i),
      claimId: claim ? claim.id : null,
      claimExpiresAt: claim ? claim.expiresAt : null,
      claimCount: c.claimCount[i] as number,
      clientId: this.clients[c.client[i] as number] ?? '',
    };
    if ((c.flags[i] as number) & FLAG_CHECKSUM) {
      const checksum = q.checksums.get(order);
      if (checksum !== undefined) message.checksum = checksum;
    }
    return message;
  }

  // --- claim reads --------------------------------------------------------------------------

  claim(project: string, queue: string, claimId: string, now: number): { claim: ClaimRecord; rows: Row[] } {
    const q = this.need(project, queue);
    const claim = q.liveClaim(claimId, now);
    if (!claim) throw new ClaimNotFoundError(queue, claimId);
    return { claim, rows: q.heldRows(claim, now).map((i) => ({ queue: q, i })) };
  }

  claimView(claim: ClaimRecord, messages: Message[], now: number): Claim {
    return {
      id: claim.id,
      ttl: claim.ttl,
      grace: claim.grace,
      age: ageSeconds(now, claim.updatedAt),
      updatedAt: claim.updatedAt,
      expiresAt: claim.expiresAt,
      messages,
    };
  }

  // --- subscription reads -------------------------------------------------------------------

  subscription(project: string, queue: string, id: string, now: number): Subscription {
    const q = this.need(project, queue);
    const s = q.subscriptions.get(id);
    if (!s || s.expiresAt <= now) throw new SubscriptionNotFoundError(queue, id);
    return this.subscriptionView(q, s, now);
  }

  subscriptionView(q: QueueState, s: SubscriptionRecord, now: number): Subscription {
    return {
      id: s.id,
      source: q.name,
      subscriber: s.subscriber,
      ttl: s.ttl,
      age: ageSeconds(now, s.createdAt),
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      options: structuredClone(s.options),
      confirmed: s.confirmed,
    };
  }

  listSubscriptions(
    project: string,
    queue: string,
    marker: string | null,
    limit: number,
    now: number,
  ): { subscriptions: Subscription[]; marker: string | null } {
    const q = this.need(project, queue);
    let after = 0;
    if (marker !== null) {
      if (!/^\d{1,15}$/.test(marker)) throw new InvalidArgumentError('marker', 'is not a marker this store made');
      after = Number(marker);
    }
    const page: Subscription[] = [];
    let last: number | null = null;
    for (const s of q.subscriptions.values()) {
      if (page.length >= limit) break;
      if (s.seq <= after || s.expiresAt <= now) continue;
      page.push(this.subscriptionView(q, s, now));
      last = s.seq;
    }
    return { subscriptions: page, marker: last !== null ? String(last) : marker };
  }

  // --- plans --------------------------------------------------------------------------------

  planPost(
    project: string,
    queue: string,
    client: string,
    now: number,
    messages: PostedMessage[],
    idempotency: IdempotentPost | null = null,
  ): Post {
    const post: Post = { type: 'post', project, queue, client, now, seq: this.seq + 1, messages };
    if (idempotency) {
      const window = idempotencyWindow(this.find(project, queue)?.metadata);
      post.idempotency = { key: idempotency.key, fingerprint: idempotency.fingerprint, until: now + window * 1000 };
    }
    return post;
  }

  /**
   * The ids of the post the queue remembers by this key, or null when it remembers none (or the
   * key's window has passed). A remembered key bound to another fingerprint is
   * IdempotencyKeyReusedError.
   */
  rememberedPost(project: string, queue: string, idempotency: IdempotentPost, now: number): string[] | null {
    const known = this.find(project, queue)?.remembered.get(idempotency.key);
    if (!known || known.until <= now) return null;
    if (known.fingerprint !== idempotency.fingerprint) throw new IdempotencyKeyReusedError(queue, idempotency.key);
    const ids = new Array<string>(known.count);
    for (let k = 0; k < known.count; k++) ids[k] = this.ids.format(known.seq + k);
    return ids;
  }

  /**
   * The messages a claim (or pop) takes: the oldest live, visible, unclaimed ones, up to
   * `limit`. Messages already claimed `_max_claim_count` times are sent to the dead-letter
   * queue on the way instead.
   */
  private take(q: QueueState, limit: number, now: number): { orders: number[]; moves: Move[] } {
    q.dropExpiredClaims(now);
    const policy = deadLetterPolicy(q.metadata, q.name);
    const c = q.cols;
    const orders: number[] = [];
    const moves: Move[] = [];
    let seq = this.seq;
    let advancing = true;
    for (let i = c.indexAfter(q.cursorOrder - 1); i < c.length && orders.length < limit; i++) {
      const gone = c.isRemoved(i) || (c.expires[i] as number) <= now || q.isClaimed(i, now);
      if (gone) {
        // Every row before the cursor is gone or held; only a claim letting go moves it back.
        if (advancing) q.cursorOrder = (c.order[i] as number) + 1;
        continue;
      }
      advancing = false;
      if (q.visibleAt(i) > now) continue;
      if (policy && (c.claimCount[i] as number) >= policy.maxClaimCount) {
        moves.push({ order: c.order[i] as number, to: policy.queue, seq: ++seq, ttl: policy.ttl });
        continue;
      }
      orders.push(c.order[i] as number);
    }
    return { orders, moves };
  }

  planClaim(
    project: string,
    queue: string,
    id: string,
    terms: ClaimTerms,
    limit: number,
    now: number,
  ): ClaimCreate | null {
    const q = this.need(project, queue);
    const { orders, moves } = this.take(q, limit, now);
    if (orders.length === 0 && moves.length === 0) return null;
    return { type: 'claimCreate', project, queue, id, ttl: terms.ttl, grace: terms.grace, now, orders, moves };
  }

  planPop(project: string, queue: string, limit: number, now: number): Pop | null {
    const q = this.find(project, queue);
    if (!q) return null;
    const { orders, moves } = this.take(q, limit, now);
    if (orders.length === 0 && moves.length === 0) return null;
    return { type: 'pop', project, queue, now, orders, moves };
  }

  planDeleteMessage(
    project: string,
    queue: string,
    id: string,
    claimId: string | null,
    now: number,
  ): MessagesDelete | null {
    const row = this.row(project, queue, id, now);
    if (!row) return null;
    const claim = row.queue.claimOf(row.i, now);
    if (claimId === null) {
      if (claim) throw new MessageClaimedError(id);
    } else if (!claim) {
      throw new MessageNotClaimedError(id);
    } else if (claim.id !== claimId) {
      throw new MessageNotClaimedByError(id, claimId);
    }
    return { type: 'messagesDelete', project, queue, orders: [row.queue.cols.order[row.i] as number] };
  }

  /**
   * The delete of those of `ids` that are live (and, with claim ids, held by a live claim among
   * them), and those ids in the order asked, each once: the caller reports what one effect
   * (one journal record on disk) deleted.
   */
  planBulkDelete(
    project: string,
    queue: string,
    ids: string[],
    claimIds: string[] | null,
    now: number,
  ): { effect: MessagesDelete | null; deleted: string[] } {
    const q = this.find(project, queue);
    if (!q) return { effect: null, deleted: [] };
    const orders = new Set<number>();
    const deleted: string[] = [];
    for (const id of ids) {
      const seq = this.ids.parse(id);
      const i = seq < 0 ? -1 : q.rowOfId(seq);
      // An expired message awaiting collection is not there any more: not reported as deleted.
      if (i < 0 || (q.cols.expires[i] as number) <= now) continue;
      if (claimIds !== null) {
        const claim = q.claimOf(i, now);
        if (!claim || !claimIds.includes(claim.id)) continue;
      }
      const order = q.cols.order[i] as number;
      if (orders.has(order)) continue;
      orders.add(order);
      deleted.push(id);
    }
    return {
      effect: orders.size === 0 ? null : { type: 'messagesDelete', project, queue, orders: [...orders] },
      deleted,
    };
  }

  planSubscriptionCreate(
    project: string,
    queue: string,
    draft: SubscriptionDraft,
    newId: string,
    now: number,
  ): { existing: string } | { effect: Effect } {
    const q = this.need(project, queue);
    const existing = q.liveSubscriber(draft.subscriber, now);
    if (existing) return { existing: existing.id };
    return {
      effect: {
        type: 'subscriptionCreate',
        project,
        queue,
        id: newId,
        subscriber: draft.subscriber,
        ttl: draft.ttl,
        options: draft.options,
        now,
      },
    };
  }

  planSubscriptionUpdate(
    project: string,
    queue: string,
    id: string,
    changes: SubscriptionChanges,
    now: number,
  ): Effect {
    const q = this.need(project, queue);
    const s = q.subscriptions.get(id);
    if (!s || s.expiresAt <= now) throw new SubscriptionNotFoundError(queue, id);
    if (changes.subscriber !== undefined && changes.subscriber !== s.subscriber) {
      const other = q.liveSubscriber(changes.subscriber, now);
      if (other) throw new SubscriptionExistsError(queue, changes.subscriber, other.id);
    }
    return { type: 'subscriptionUpdate', project, queue, id, ...changes, now };
  }

  // --- apply --------------------------------------------------------------------------------

  apply(effect: Effect): void {
    switch (effect.type) {
      case 'queueCreate':
        if (!this.find(effect.project, effect.queue))
          this.makeQueue(effect.project, effect.queue, structuredClone(effect.metadata));
        return;
      case 'queueMetadataSet': {
        const q = this.find(effect.project, effect.queue);
        if (q) q.metadata = structuredClone(effect.metadata);
        return;
      }
      case 'queueDelete':
        this.deleteQueue(effect.project, effect.queue);
        return;
      case 'post':
        this.applyPost(effect);
        return;
      case 'claimCreate':
        this.applyClaim(effect);
        return;
      case 'claimUpdate': {
        const q = this.find(effect.project, effect.queue);
        const num = q?.claimNums.get(effect.id);
        const claim = num === undefined ? undefined : q?.claims.get(num);
        if (!q || !claim) return;
        claim.ttl = effect.ttl;
        claim.grace = effect.grace;
        claim.updatedAt = effect.now;
        claim.expiresAt = effect.now + effect.ttl * 1000;
        for (const order of claim.orders) {
          const i = q.cols.find(order);
          if (i >= 0 && q.cols.claim[i] === claim.num) q.hold(i, claim);
        }
        return;
      }
      case 'claimDelete': {
        const q = this.find(effect.project, effect.queue);
        const num = q?.claimNums.get(effect.id);
        const claim = num === undefined ? undefined : q?.claims.get(num);
        if (q && claim) q.release(claim);
        return;
      }
      case 'messagesDelete': {
        const q = this.find(effect.project, effect.queue);
        if (q) this.removeOrders(q, effect.orders);
        return;
      }
      case 'pop': {
        const q = this.find(effect.project, effect.queue);
        if (!q) return;
        this.applyMoves(q, effect.moves, effect.now);
        this.removeOrders(q, effect.orders);
        return;
      }
      case 'subscriptionCreate': {
        const q = this.find(effect.project, effect.queue);
        if (!q) return;
        q.subscriptions.set(effect.id, {
          id: effect.id,
          seq: q.nextSubscriptionSeq++,
          subscriber: effect.subscriber,
          ttl: effect.ttl,
          createdAt: effect.now,
          expiresAt: effect.now + effect.ttl * 1000,
          options: structuredClone(effect.options),
          confirmed: false,
        });
        return;
      }
      case 'subscriptionUpdate': {
        const s = this.find(effect.project, effect.queue)?.subscriptions.get(effect.id);
        if (!s) return;
        if (effect.subscriber !== undefined) s.subscriber = effect.subscriber;
        if (effect.ttl !== undefined) {
          s.ttl = effect.ttl;
          s.expiresAt = effect.now + effect.ttl * 1000;
        }
        if (effect.options !== undefined) s.options = structuredClone(effect.options);
        return;
      }
      case 'subscriptionDelete':
        this.find(effect.project, effect.queue)?.subscriptions.delete(effect.id);
        return;
      case 'subscriptionConfirm': {
        const s = this.find(effect.project, effect.queue)?.subscriptions.get(effect.id);
        if (s) s.confirmed = effect.confirmed;
        return;
      }
      case 'relocate':
        for (const { project, queue, order, ref } of effect.entries) {
          const q = this.find(project, queue);
          const i = q ? q.cols.find(order) : -1;
          if (q && i >= 0) q.cols.bodyRef[i] = ref;
        }
        return;
    }
  }

  makeQueue(project: string, queue: string, metadata: QueueMetadata): QueueState {
    let queues = this.projects.get(project);
    if (!queues) {
      queues = new Map();
      this.projects.set(project, queues);
    }
    const state = new QueueState(project, queue, metadata);
    queues.set(queue, state);
    return state;
  }

  private deleteQueue(project: string, queue: string): void {
    const queues = this.projects.get(project);
    const q = queues?.get(queue);
    if (!queues || !q) return;
    const c = q.cols;
    for (let i = 0; i < c.length; i++)
      if (!c.isRemoved(i)) this.bodyFreed(c.bodyRef[i] as number, c.bodyLen[i] as number);
    queues.delete(queue);
    if (queues.size === 0) this.projects.delete(project);
  }

  private applyPost(effect: Post): void {
    const q = this.find(effect.project, effect.queue) ?? this.makeQueue(effect.project, effect.queue, {});
    if (effect.idempotency) {
      const { key, fingerprint, until } = effect.idempotency;
      q.remembered.set(key, { fingerprint, seq: effect.seq, count: effect.messages.length, until });
    }
    const client = this.internClient(effect.client);
    const now = effect.now;
    q.cols.reserve(effect.messages.length);
    let seq = effect.seq;
    for (const m of effect.messages) {
      q.cols.append(
        seq,
        m.ref,
        m.length,
        now,
        now + m.ttl * 1000,
        m.delay,
        m.ttl,
        client,
        m.checksum === null ? 0 : FLAG_CHECKSUM,
      );
      if (m.checksum !== null) q.checksums.set(seq, m.checksum);
      seq++;
    }
    if (seq - 1 > this.seq) this.seq = seq - 1;
  }

  private applyClaim(effect: ClaimCreate): void {
    const q = this.find(effect.project, effect.queue);
    if (!q) return;
    this.applyMoves(q, effect.moves, effect.now);
    if (effect.orders.length === 0) return;
    const claim: ClaimRecord = {
      num: q.nextClaimNum++,
      id: effect.id,
      ttl: effect.ttl,
      grace: effect.grace,
      updatedAt: effect.now,
      expiresAt: effect.now + effect.ttl * 1000,
      orders: [],
    };
    if (q.nextClaimNum > 0x7fffffff) q.nextClaimNum = 0;
    const c = q.cols;
    for (const order of effect.orders) {
      const i = c.find(order);
      if (i < 0) continue;
      c.claimCount[i] = Math.min(0xffff, (c.claimCount[i] as number) + 1);
      q.hold(i, claim);
      claim.orders.push(order);
    }
    q.claims.set(claim.num, claim);
    q.claimNums.set(claim.id, claim.num);
    if (claim.expiresAt < q.minClaimExpiry) q.minClaimExpiry = claim.expiresAt;
  }

  /** Dead-letter moves: each message goes to the end of its target queue, keeping its id and body. */
  private applyMoves(from: QueueState, moves: Move[], now: number): void {
    if (moves.length > 0) this.observer?.deadLettered?.(from.project, from.name, moves.length);
    for (const move of moves) {
      const i = from.cols.find(move.order);
      if (move.seq > this.seq) this.seq = move.seq;
      if (i < 0) continue;
      const to = this.find(from.project, move.to) ?? this.makeQueue(from.project, move.to, {});
      const c = from.cols;
      const idSeq = from.idSeqOf(i);
      const ttl = move.ttl ?? (c.ttl[i] as number);
      const expires = move.ttl === null ? (c.expires[i] as number) : now + move.ttl * 1000;
      const checksum = from.checksums.get(move.order);
      const flags =
        FLAG_MOVED | (checksum === undefined ? 0 : FLAG_CHECKSUM) | ((c.flags[i] as number) & FLAG_BODY_CRC);
      to.cols.append(
        move.seq,
        c.bodyRef[i] as number,
        c.bodyLen[i] as number,
        c.created[i] as number,
        expires,
        c.delay[i] as number,
        ttl,
        c.client[i] as number,
        flags,
      );
      to.movedIn.set(idSeq, move.seq);
      to.movedIdOf.set(move.seq, idSeq);
      if (checksum !== undefined) to.checksums.set(move.seq, checksum);
      from.removeRow(i); // the body now belongs to the moved row: not freed
    }
  }

  private removeOrders(q: QueueState, orders: number[]): void {
    const c = q.cols;
    for (const order of orders) {
      const i = c.find(order);
      if (i < 0) continue;
      this.bodyFreed(c.bodyRef[i] as number, c.bodyLen[i] as number);
      q.removeRow(i);
    }
    q.maybeCompact();
  }

  // --- collection ---------------------------------------------------------------------------

  /** Removes expired messages, claims and subscriptions (none of them visible any more). */
  gc(now: number): GcReport {
    const report: GcReport = { messages: 0, claims: 0, subscriptions: 0 };
    for (const q of [...this.queues()]) {
      report.claims += q.dropExpiredClaims(now);
      const c = q.cols;
      let expired = 0;
      for (let i = 0; i < c.length; i++) {
        if (c.isRemoved(i) || (c.expires[i] as number) > now) continue;
        this.bodyFreed(c.bodyRef[i] as number, c.bodyLen[i] as number);
        q.removeRow(i);
        expired++;
      }
      report.messages += expired;
      if (expired > 0) this.observer?.expired?.(q.project, q.name, expired);
      if (c.removed > 0 && c.removed * 2 > c.length) c.compact();
      for (const s of [...q.subscriptions.values()]) {
        if (s.expiresAt <= now) {
          q.subscriptions.delete(s.id);
          report.subscriptions++;
        }
      }
      for (const [key, post] of q.remembered) if (post.until <= now) q.remembered.delete(key);
    }
    return report;
  }

  /** Every live row, for compaction and snapshots. */
  *rows(): IterableIterator<Row> {
    for (const q of this.queues()) {
      const c = q.cols;
      for (let i = 0; i < c.length; i++) if (!c.isRemoved(i)) yield { queue: q, i };
    }
  }

  static readonly NO_CLAIM = NO_CLAIM;
}
