import {
  type Capability,
  type Claim,
  ClaimNotFoundError,
  type Clock,
  type GcReport,
  InvalidArgumentError,
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
  type MessageDraft,
  type MessagePage,
  type MessageQuery,
  type QueuePage,
  type QueueQuery,
  queueMatches,
  type StoreEngine,
  type SubscriptionChanges,
  type SubscriptionDraft,
  type SubscriptionPage,
} from '../contract/index.js';
import { type LogRecord, MessageLog } from './message-log.js';

interface MessageRecord extends LogRecord {
  body: unknown;
  ttl: number;
  createdAt: number;
  expiresAt: number;
  visibleAt: number;
  claimId: string | null;
  claimExpiresAt: number;
  claimCount: number;
  clientId: string;
  checksum: string | null;
}

interface ClaimRecord {
  id: string;
  ttl: number;
  grace: number;
  updatedAt: number;
  expiresAt: number;
  messageIds: Set<string>;
}

interface SubscriptionRecord {
  id: string;
  seq: number;
  subscriber: string;
  ttl: number;
  createdAt: number;
  expiresAt: number;
  options: Record<string, unknown>;
  confirmed: boolean;
}

interface QueueState {
  name: string;
  metadata: QueueMetadata;
  nextSeq: number;
  messages: MessageLog<MessageRecord>;
  claims: Map<string, ClaimRecord>;
  subscriptions: Map<string, SubscriptionRecord>;
  nextSubscriptionSeq: number;
}

const MEMORY_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>(['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT']);

/**
 * Everything in a Map, nothing on disk. Each operation runs to completion without awaiting,
 * so on Node's single thread every operation is atomic: two claims can never interleave.
 * Bodies and metadata are copied in and out so callers cannot change what is stored.
 */
export class MemoryEngine implements StoreEngine {
  readonly kind = 'memory';
  readonly capabilities = MEMORY_CAPABILITIES;
  private readonly projects = new Map<ProjectId, Map<string, QueueState>>();

  constructor(private readonly clock: Clock) {}

  // --- queues -------------------------------------------------------------------------------

  async createQueue(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<boolean> {
    if (this.find(project, queue)) return false;
    this.makeQueue(project, queue, structuredClone(metadata));
    return true;
  }

  async queueExists(project: ProjectId, queue: string): Promise<boolean> {
    return this.find(project, queue) !== undefined;
  }

  async getQueueMetadata(project: ProjectId, queue: string): Promise<QueueMetadata> {
    return structuredClone(this.need(project, queue).metadata);
  }

  async setQueueMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void> {
    this.need(project, queue).metadata = structuredClone(metadata);
  }

  async deleteQueue(project: ProjectId, queue: string): Promise<void> {
    const queues = this.projects.get(project);
    if (!queues) return;
    queues.delete(queue);
    if (queues.size === 0) this.projects.delete(project);
  }

  async listQueues(project: ProjectId, query: QueueQuery): Promise<QueuePage> {
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

  async queueStats(project: ProjectId, queue: string): Promise<QueueStats> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    let total = 0;
    let claimed = 0;
    let delayed = 0;
    let oldest: MessageRecord | undefined;
    let newest: MessageRecord | undefined;
    for (const m of q.messages.from()) {
      if (m.expiresAt <= now) continue;
      total++;
      oldest ??= m;
      newest = m;
      if (isClaimed(m, now)) claimed++;
      else if (m.visibleAt > now) delayed++;
    }
    const stamp = (m: MessageRecord) => ({ id: m.id, age: ageSeconds(now, m.createdAt), createdAt: m.createdAt });
    return {
      claimed,
      free: total - claimed,
      delayed,
      total,
      ...(oldest ? { oldest: stamp(oldest) } : {}),
      ...(newest ? { newest: stamp(newest) } : {}),
    };
  }

  // --- messages -----------------------------------------------------------------------------

  async postMessages(project: ProjectId, queue: string, drafts: MessageDraft[], clientId: string): Promise<string[]> {
    // Copy every body before touching the queue, so a body that cannot be copied leaves nothing.
    const bodies = drafts.map((d) => structuredClone(d.body));
    const q = this.find(project, queue) ?? this.makeQueue(project, queue, {});
    const now = this.clock.now();
    return drafts.map((draft, i) => {
      const record: MessageRecord = {
        id: newId(now),
        seq: q.nextSeq++,
        deleted: false,
        body: bodies[i],
        ttl: draft.ttl,
        createdAt: now,
        expiresAt: now + draft.ttl * 1000,
        visibleAt: now + draft.delay * 1000,
        claimId: null,
        claimExpiresAt: 0,
        claimCount: 0,
        clientId,
        checksum: draft.checksum,
      };
      q.messages.append(record);
      return record.id;
    });
  }

  async listMessages(project: ProjectId, queue: string, query: MessageQuery): Promise<MessagePage> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    const after = query.marker === null ? null : parseSeqMarker(query.marker);
    const hideOwn = !query.echo && query.clientId !== null;
    const messages: Message[] = [];
    let lastSeq: number | null = null;
    for (const m of q.messages.from(after)) {
      if (messages.length >= query.limit) break;
      if (m.expiresAt <= now) continue;
      if (!query.includeClaimed && isClaimed(m, now)) continue;
      if (!query.includeDelayed && m.visibleAt > now) continue;
      if (hideOwn && m.clientId === query.clientId) continue;
      messages.push(toMessage(m, now));
      lastSeq = m.seq;
    }
    return { messages, marker: lastSeq !== null ? String(lastSeq) : query.marker };
  }

  async firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    for (const m of end === 'oldest' ? q.messages.from() : q.messages.backwards()) {
      if (m.expiresAt > now) return toMessage(m, now);
    }
    return null;
  }

  async getMessage(project: ProjectId, queue: string, id: string): Promise<Message> {
    const now = this.clock.now();
    const m = this.find(project, queue)?.messages.get(id);
    if (!m || m.expiresAt <= now) throw new MessageNotFoundError(queue, id);
    return toMessage(m, now);
  }

  async bulkGetMessages(project: ProjectId, queue: string, ids: string[]): Promise<Message[]> {
    const q = this.find(project, queue);
    if (!q) return [];
    const now = this.clock.now();
    const seen = new Set<string>();
    const found: Message[] = [];
    for (const id of ids) {
      const m = q.messages.get(id);
      if (m && m.expiresAt > now && !seen.has(id)) {
        seen.add(id);
        found.push(toMessage(m, now));
      }
    }
    return found;
  }

  async deleteMessage(project: ProjectId, queue: string, id: string, claimId: string | null): Promise<void> {
    const q = this.find(project, queue);
    const m = q?.messages.get(id);
    const now = this.clock.now();
    if (!q || !m || m.expiresAt <= now) return;
    const claimed = isClaimed(m, now);
    if (claimId === null) {
      if (claimed) throw new MessageClaimedError(id);
    } else if (!claimed) {
      throw new MessageNotClaimedError(id);
    } else if (m.claimId !== claimId) {
      throw new MessageNotClaimedByError(id, claimId);
    }
    this.removeMessage(q, m);
  }

  async bulkDeleteMessages(project: ProjectId, queue: string, ids: string[], claimIds: string[] | null): Promise<void> {
    const q = this.find(project, queue);
    if (!q) return;
    const now = this.clock.now();
    for (const id of ids) {
      const m = q.messages.get(id);
      if (!m) continue;
      if (claimIds !== null && !(isClaimed(m, now) && claimIds.includes(m.claimId as string))) continue;
      this.removeMessage(q, m);
    }
  }

  async popMessages(project: ProjectId, queue: string, limit: number): Promise<Message[]> {
    const q = this.find(project, queue);
    if (!q) return [];
    const now = this.clock.now();
    const taken = this.takeFree(project, q, limit, now);
    return taken.map((m) => {
      m.claimCount++;
      const message = toMessage(m, now);
      this.removeMessage(q, m);
      return message;
    });
  }

  // --- claims -------------------------------------------------------------------------------

  async createClaim(project: ProjectId, queue: string, terms: ClaimTerms & { limit: number }): Promise<Claim | null> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    const taken = this.takeFree(project, q, terms.limit, now);
    if (taken.length === 0) return null;
    const claim: ClaimRecord = {
      id: newId(now),
      ttl: terms.ttl,
      grace: terms.grace,
      updatedAt: now,
      expiresAt: now + terms.ttl * 1000,
      messageIds: new Set(),
    };
    for (const m of taken) {
      m.claimCount++;
      this.holdMessage(m, claim);
    }
    q.claims.set(claim.id, claim);
    return this.toClaim(q, claim, now);
  }

  async getClaim(project: ProjectId, queue: string, claimId: string): Promise<Claim> {
    const now = this.clock.now();
    const q = this.need(project, queue);
    return this.toClaim(q, this.needClaim(q, claimId, now), now);
  }

  async updateClaim(project: ProjectId, queue: string, claimId: string, terms: ClaimTerms): Promise<void> {
    const now = this.clock.now();
    const q = this.need(project, queue);
    const claim = this.needClaim(q, claimId, now);
    claim.ttl = terms.ttl;
    claim.grace = terms.grace;
    claim.updatedAt = now;
    claim.expiresAt = now + terms.ttl * 1000;
    for (const m of this.heldBy(q, claim, now)) this.holdMessage(m, claim);
  }

  async deleteClaim(project: ProjectId, queue: string, claimId: string): Promise<void> {
    const q = this.find(project, queue);
    const claim = q?.claims.get(claimId);
    if (!q || !claim) return;
    for (const id of claim.messageIds) {
      const m = q.messages.get(id);
      if (m && m.claimId === claimId) {
        m.claimId = null;
        m.claimExpiresAt = 0;
      }
    }
    q.claims.delete(claimId);
  }

  // --- subscriptions ------------------------------------------------------------------------

  async createSubscription(project: ProjectId, queue: string, draft: SubscriptionDraft): Promise<CreatedSubscription> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    const existing = this.liveSubscriber(q, draft.subscriber, now);
    if (existing) return { id: existing.id, created: false };
    const record: SubscriptionRecord = {
      id: newId(now),
      seq: q.nextSubscriptionSeq++,
      subscriber: draft.subscriber,
      ttl: draft.ttl,
      createdAt: now,
      expiresAt: now + draft.ttl * 1000,
      options: structuredClone(draft.options),
      confirmed: false,
    };
    q.subscriptions.set(record.id, record);
    return { id: record.id, created: true };
  }

  async listSubscriptions(
    project: ProjectId,
    queue: string,
    query: { marker: string | null; limit: number },
  ): Promise<SubscriptionPage> {
    const q = this.need(project, queue);
    const now = this.clock.now();
    const after = query.marker === null ? -1 : parseSeqMarker(query.marker);
    const page: Subscription[] = [];
    let lastSeq: number | null = null;
    for (const s of q.subscriptions.values()) {
      if (page.length >= query.limit) break;
      if (s.seq <= after || s.expiresAt <= now) continue;
      page.push(toSubscription(q, s, now));
      lastSeq = s.seq;
    }
    return { subscriptions: page, marker: lastSeq !== null ? String(lastSeq) : query.marker };
  }

  async getSubscription(project: ProjectId, queue: string, id: string): Promise<Subscription> {
    const now = this.clock.now();
    const q = this.need(project, queue);
    return toSubscription(q, this.needSubscription(q, id, now), now);
  }

  async getSubscriptionBySubscriber(
    project: ProjectId,
    queue: string,
    subscriber: string,
  ): Promise<Subscription | null> {
    const now = this.clock.now();
    const q = this.need(project, queue);
    const s = this.liveSubscriber(q, subscriber, now);
    return s ? toSubscription(q, s, now) : null;
  }

  async subscriptionExists(project: ProjectId, queue: string, id: string): Promise<boolean> {
    const s = this.find(project, queue)?.subscriptions.get(id);
    return s !== undefined && s.expiresAt > this.clock.now();
  }

  async updateSubscription(project: ProjectId, queue: string, id: string, changes: SubscriptionChanges): Promise<void> {
    const now = this.clock.now();
    const q = this.need(project, queue);
    const s = this.needSubscription(q, id, now);
    if (changes.subscriber !== undefined && changes.subscriber !== s.subscriber) {
      const other = this.liveSubscriber(q, changes.subscriber, now);
      if (other) throw new SubscriptionExistsError(queue, changes.subscriber, other.id);
      s.subscriber = changes.subscriber;
    }
    if (changes.ttl !== undefined) {
      s.ttl = changes.ttl;
      s.expiresAt = now + changes.ttl * 1000;
    }
    if (changes.options !== undefined) s.options = structuredClone(changes.options);
  }

  async deleteSubscription(project: ProjectId, queue: string, id: string): Promise<void> {
    this.find(project, queue)?.subscriptions.delete(id);
  }

  async confirmSubscription(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void> {
    const now = this.clock.now();
    this.needSubscription(this.need(project, queue), id, now).confirmed = confirmed;
  }

  // --- driver -------------------------------------------------------------------------------

  async isAlive(): Promise<boolean> {
    return true;
  }

  async gc(): Promise<GcReport> {
    const now = this.clock.now();
    const report: GcReport = { messages: 0, claims: 0, subscriptions: 0 };
    for (const queues of this.projects.values()) {
      for (const q of queues.values()) {
        for (const m of [...q.messages.from()]) {
          if (m.expiresAt <= now) {
            this.removeMessage(q, m);
            report.messages++;
          }
        }
        for (const claim of [...q.claims.values()]) {
          if (claim.expiresAt <= now) {
            q.claims.delete(claim.id);
            report.claims++;
          }
        }
        for (const s of [...q.subscriptions.values()]) {
          if (s.expiresAt <= now) {
            q.subscriptions.delete(s.id);
            report.subscriptions++;
          }
        }
      }
    }
    return report;
  }

  async close(): Promise<void> {
    this.projects.clear();
  }

  // --- helpers ------------------------------------------------------------------------------

  private find(project: ProjectId, queue: string): QueueState | undefined {
    return this.projects.get(project)?.get(queue);
  }

  private need(project: ProjectId, queue: string): QueueState {
    const q = this.find(project, queue);
    if (!q) throw new QueueNotFoundError(project, queue);
    return q;
  }

  private makeQueue(project: ProjectId, queue: string, metadata: QueueMetadata): QueueState {
    let queues = this.projects.get(project);
    if (!queues) {
      queues = new Map();
      this.projects.set(project, queues);
    }
    const state: QueueState = {
      name: queue,
      metadata,
      nextSeq: 1,
      messages: new MessageLog(),
      claims: new Map(),
      subscriptions: new Map(),
      nextSubscriptionSeq: 1,
    };
    queues.set(queue, state);
    return state;
  }

  private needClaim(q: QueueState, claimId: string, now: number): ClaimRecord {
    const claim = q.claims.get(claimId);
    if (!claim || claim.expiresAt <= now) throw new ClaimNotFoundError(q.name, claimId);
    return claim;
  }

  private needSubscription(q: QueueState, id: string, now: number): SubscriptionRecord {
    const s = q.subscriptions.get(id);
    if (!s || s.expiresAt <= now) throw new SubscriptionNotFoundError(q.name, id);
    return s;
  }

  private liveSubscriber(q: QueueState, subscriber: string, now: number): SubscriptionRecord | undefined {
    for (const s of q.subscriptions.values()) {
      if (s.subscriber === subscriber && s.expiresAt > now) return s;
    }
    return undefined;
  }

  /**
   * Picks up to `limit` of the oldest live, visible, unclaimed messages. Messages already
   * claimed `_max_claim_count` times move to the dead-letter queue on the way and are skipped.
   */
  private takeFree(project: ProjectId, q: QueueState, limit: number, now: number): MessageRecord[] {
    const policy = deadLetterPolicy(q.metadata, q.name);
    const taken: MessageRecord[] = [];
    for (const m of q.messages.from()) {
      if (taken.length >= limit) break;
      if (m.expiresAt <= now || m.visibleAt > now || isClaimed(m, now)) continue;
      if (policy && m.claimCount >= policy.maxClaimCount) {
        this.moveToDeadLetter(project, q, m, policy.queue, policy.ttl, now);
        continue;
      }
      taken.push(m);
    }
    return taken;
  }

  private moveToDeadLetter(
    project: ProjectId,
    from: QueueState,
    m: MessageRecord,
    target: string,
    ttl: number | null,
    now: number,
  ): void {
    this.removeMessage(from, m);
    const dlq = this.find(project, target) ?? this.makeQueue(project, target, {});
    const moved: MessageRecord = {
      ...m,
      seq: dlq.nextSeq++,
      deleted: false,
      claimId: null,
      claimExpiresAt: 0,
      claimCount: 0,
      ...(ttl !== null ? { ttl, expiresAt: now + ttl * 1000 } : {}),
    };
    dlq.messages.append(moved);
  }

  /** Puts `m` under `claim` and lengthens its life when it would end before the claim does. */
  private holdMessage(m: MessageRecord, claim: ClaimRecord): void {
    m.claimId = claim.id;
    m.claimExpiresAt = claim.expiresAt;
    claim.messageIds.add(m.id);
    if (m.expiresAt < claim.expiresAt) {
      m.expiresAt = claim.expiresAt + claim.grace * 1000;
      m.ttl = claim.ttl + claim.grace;
    }
  }

  private heldBy(q: QueueState, claim: ClaimRecord, now: number): MessageRecord[] {
    const held: MessageRecord[] = [];
    for (const id of claim.messageIds) {
      const m = q.messages.get(id);
      if (m && m.claimId === claim.id && m.expiresAt > now) held.push(m);
      else claim.messageIds.delete(id);
    }
    return held;
  }

  private toClaim(q: QueueState, claim: ClaimRecord, now: number): Claim {
    return {
      id: claim.id,
      ttl: claim.ttl,
      grace: claim.grace,
      age: ageSeconds(now, claim.updatedAt),
      updatedAt: claim.updatedAt,
      expiresAt: claim.expiresAt,
      messages: this.heldBy(q, claim, now).map((m) => toMessage(m, now)),
    };
  }

  private removeMessage(q: QueueState, m: MessageRecord): void {
    if (m.claimId !== null) q.claims.get(m.claimId)?.messageIds.delete(m.id);
    q.messages.remove(m);
  }
}

function isClaimed(m: MessageRecord, now: number): boolean {
  return m.claimId !== null && m.claimExpiresAt > now;
}

function toMessage(m: MessageRecord, now: number): Message {
  const claimed = isClaimed(m, now);
  return {
    id: m.id,
    body: structuredClone(m.body),
    ttl: m.ttl,
    age: ageSeconds(now, m.createdAt),
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    visibleAt: m.visibleAt,
    claimId: claimed ? m.claimId : null,
    claimExpiresAt: claimed ? m.claimExpiresAt : null,
    claimCount: m.claimCount,
    clientId: m.clientId,
    ...(m.checksum !== null ? { checksum: m.checksum } : {}),
  };
}

function toSubscription(q: QueueState, s: SubscriptionRecord, now: number): Subscription {
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

function parseSeqMarker(marker: string): number {
  if (!/^\d{1,15}$/.test(marker)) throw new InvalidArgumentError('marker', 'is not a marker this store made');
  return Number(marker);
}
