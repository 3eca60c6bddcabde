import { randomUUID } from 'node:crypto';
import {
  ClaimNotFoundError,
  ignoreMissing,
  type Message,
  MessageClaimedError,
  type NewMessage,
  QueueNotFoundError,
  type QueueStats,
  sleep,
  type Timer,
} from '../core/index.js';
import type { DataDriver, ListMessagesOptions } from '../store/contract/index.js';
import type { Catalog } from './catalog.js';
import type { Lease } from './lease.js';
import type { CopyIntent, MoveRecord, Route } from './management-store.js';
import { MOVE_BATCH } from './pool-limits.js';

/** Seconds the mover's claim on a batch of originals lasts (no grace: lifetimes are not stretched). */
const MOVER_CLAIM_SECONDS = 60;
/** A delayed message is copied while delayed only when it stays invisible at least this long. */
const DELAY_MARGIN_MS = 5_000;
/** How long the copying step runs before posts are switched to the target even if producers outpace it. */
const COPYING_MAX_MS = 60_000;
const POLL_MS = 200;
const PROGRESS_MS = 500;

export interface MoveOptions {
  /**
   * Seconds consumers' claims in the source may go on once the source is otherwise drained; then
   * they are released (their messages are copied and delivered again, as when a claim expires).
   * Default: none — the move waits for every claim to be deleted or to expire.
   */
  claimWaitSeconds?: number | null;
  /** Told of every progress update (also kept in the move record). */
  onProgress?: (move: MoveRecord) => void;
}

class Paused extends Error {}
class Cancelled extends Error {}

/**
 * One execution of a move, from wherever its record says it stopped: the steps of the protocol
 * described at QueueMover (queue-mover.ts), run by the holder of the queue's move lease.
 */
export class MoveRun {
  readonly done: Promise<MoveRecord>;
  private resolveDone!: (record: MoveRecord) => void;
  private stopped = false;
  private leaseLost = false;
  private renewTimer: Timer | null = null;
  private lastPersist = 0;
  private source!: DataDriver;
  private target!: DataDriver;
  private readonly p: string;
  private readonly q: string;
  private readonly g: number;

  constructor(
    private readonly catalog: Catalog,
    private readonly lease: Lease,
    private readonly record: MoveRecord,
    private readonly options: MoveOptions,
  ) {
    this.p = record.project;
    this.q = record.queue;
    this.g = catalog.cacheMs + catalog.settleMs;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  snapshot(): MoveRecord {
    return structuredClone(this.record);
  }

  stop(): void {
    this.stopped = true;
  }

  async execute(): Promise<MoveRecord> {
    const r = this.record;
    this.scheduleRenewal();
    // The clock's timers do not keep a process alive; a move must not be cut short by an idle loop.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      this.source = await this.catalog.driver(r.from);
      this.target = await this.catalog.driver(r.to);
      if (r.intent !== null) await this.recover(r.intent);
      if (r.step === 'starting') await this.begin();
      if (r.step === 'copying') await this.copying();
      if (r.step === 'draining') await this.draining();
      if (r.step === 'switched') await this.finish();
      r.status = 'done';
      r.step = 'finished';
      r.finishedAt = this.now();
    } catch (error) {
      if (error instanceof Cancelled) {
        r.status = 'cancelled';
        r.finishedAt = this.now();
        r.error = 'the queue was deleted during the move';
      } else {
        // Every intermediate route is served correctly; starting the move again resumes it here.
        r.status = 'failed';
        r.error = error instanceof Paused ? error.message : `${(error as Error).name}: ${(error as Error).message}`;
        this.catalog.logger.warn({ move: r.id, queue: r.queue, err: error }, 'queue move stopped');
      }
    } finally {
      clearInterval(keepAlive);
      this.renewTimer?.cancel();
      await this.persist(true).catch(() => {});
      await this.lease.release().catch(() => {});
    }
    this.resolveDone(this.snapshot());
    return this.snapshot();
  }

  // --- the steps ----------------------------------------------------------------------------

  private async begin(): Promise<void> {
    const metadata = await ignoreMissing(this.source.queues.getMetadata(this.p, this.q), {});
    if (!(await this.target.queues.create(this.p, this.q, metadata))) {
      await this.target.queues.setMetadata(this.p, this.q, metadata);
    }
    await this.publish({ pool: this.record.from, to: this.record.to, phase: 'copying', move: this.record.id });
    this.record.step = 'copying';
    await this.persist(true);
    // Every server must see the moving route before the target holds a message it could be asked for by id.
    await this.wait(this.g);
  }

  private async copying(): Promise<void> {
    const started = this.now();
    let batches = 0;
    for (;;) {
      this.check();
      const copied = await this.copyClaimed();
      if (copied < MOVE_BATCH || this.now() - started > COPYING_MAX_MS) break;
      if (++batches % 10 === 0) await this.checkRoute();
      await this.persist(false);
    }
    await this.publish({ pool: this.record.from, to: this.record.to, phase: 'draining', move: this.record.id });
    this.record.step = 'draining';
    this.record.drainingAt = this.now();
    await this.persist(true);
  }

  private async draining(): Promise<void> {
    const since = this.record.drainingAt ?? this.now();
    const claimWait = this.options.claimWaitSeconds;
    for (;;) {
      this.check();
      if ((await this.copyClaimed()) > 0) continue;
      if ((await this.copyDelayed(DELAY_MARGIN_MS)) > 0) continue;
      const stats = await this.sourceStats();
      const waited = this.now() - since;
      if (stats.total === 0 && waited >= this.g) break;
      if (stats.claimed > 0 && claimWait != null && waited >= claimWait * 1000) await this.releaseClaims();
      await this.checkRoute();
      await this.persist(false);
      await this.wait(POLL_MS);
    }
    await this.copySubscriptions();
    const metadata = await ignoreMissing(this.source.queues.getMetadata(this.p, this.q), null);
    if (metadata !== null) await this.target.queues.setMetadata(this.p, this.q, metadata);
    await this.publish({ pool: this.record.to });
    this.record.step = 'switched';
    this.record.switchedAt = this.now();
    await this.persist(true);
  }

  private async finish(): Promise<void> {
    const switchedAt = this.record.switchedAt ?? this.now();
    await this.wait(Math.max(0, switchedAt + this.g - this.now()));
    // Nobody routes to the source any more: copy what landed late, delayed or not, then delete it.
    for (;;) {
      this.check();
      if ((await this.copyClaimed()) > 0) continue;
      if ((await this.copyDelayed(Number.NEGATIVE_INFINITY)) > 0) continue;
      const stats = await this.sourceStats();
      if (stats.total === 0) break;
      if (stats.claimed > 0) await this.releaseClaims();
      await this.persist(false);
      await this.wait(POLL_MS);
    }
    await this.source.queues.delete(this.p, this.q);
  }

  // --- copying ------------------------------------------------------------------------------

  /** Copies one claimed batch of the source's oldest free messages; answers how many. */
  private async copyClaimed(): Promise<number> {
    // Their lifetimes before the claim (a claim may lengthen a message's life).
    const peek = await ignoreMissing(
      this.source.messages.list(this.p, this.q, { limit: MOVE_BATCH, echo: true }),
      null,
    );
    if (peek === null || peek.messages.length === 0) return 0;
    const expiry = new Map(peek.messages.map((m) => [m.id, m.expiresAt]));
    const claim = await ignoreMissing(
      this.source.claims.create(this.p, this.q, { limit: MOVE_BATCH, ttl: MOVER_CLAIM_SECONDS, grace: 0 }),
      null,
    );
    if (claim === null) return 0;
    if (claim.messages.length === 0) {
      await this.source.claims.delete(this.p, this.q, claim.id);
      return 0;
    }
    const claimedAt = this.now();
    const intent: CopyIntent = {
      claimId: claim.id,
      tag: randomUUID(),
      ids: claim.messages.map((m) => m.id),
      kind: 'claimed',
    };
    this.record.intent = intent;
    await this.persist(true);
    await this.target.messages.post(
      this.p,
      this.q,
      claim.messages.map((m) => this.draft(m, expiry.get(m.id))),
      intent.tag,
    );
    if (this.now() - claimedAt > (MOVER_CLAIM_SECONDS * 1000) / 2) {
      // Slow: make sure the claim still holds the originals before deleting them.
      const held = await this.source.claims
        .update(this.p, this.q, claim.id, { ttl: MOVER_CLAIM_SECONDS, grace: 0 })
        .then(
          () => true,
          (error: unknown) => {
            if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) return false;
            throw error;
          },
        );
      if (!held) {
        await this.recover(intent);
        return intent.ids.length;
      }
    }
    await this.source.messages.bulkDelete(this.p, this.q, intent.ids, { claimIds: [claim.id] });
    this.record.copied += intent.ids.length;
    this.record.intent = null;
    return intent.ids.length;
  }

  /**
   * Copies delayed messages that stay invisible for more than `marginMs` yet (nobody can claim
   * them meanwhile), then deletes the originals; a message deleted by a client in between has its
   * copy withdrawn. Answers how many were copied.
   */
  private async copyDelayed(marginMs: number): Promise<number> {
    const now = this.now();
    const batch: Message[] = [];
    let pages = 0;
    for await (const messages of this.pages(this.source, { includeDelayed: true })) {
      for (const m of messages) {
        if (m.claimId === null && m.visibleAt > now + marginMs && batch.length < MOVE_BATCH) batch.push(m);
      }
      if (++pages === 10 || batch.length >= MOVE_BATCH) break;
    }
    if (batch.length === 0) return 0;
    const intent: CopyIntent = { claimId: '', tag: randomUUID(), ids: batch.map((m) => m.id), kind: 'delayed' };
    this.record.intent = intent;
    await this.persist(true);
    const copies = await this.target.messages.post(
      this.p,
      this.q,
      batch.map((m) => this.draft(m, m.expiresAt)),
      intent.tag,
    );
    const still = new Set(
      (await ignoreMissing(this.source.messages.bulkGet(this.p, this.q, intent.ids), [])).map((m) => m.id),
    );
    const withdraw = copies.filter((_, i) => !still.has(intent.ids[i] as string));
    if (withdraw.length > 0) await this.target.messages.bulkDelete(this.p, this.q, withdraw);
    await this.source.messages.bulkDelete(
      this.p,
      this.q,
      intent.ids.filter((id) => still.has(id)),
    );
    this.record.copied += copies.length - withdraw.length;
    this.record.intent = null;
    return batch.length;
  }

  /**
   * Finishes or undoes a batch whose mover stopped between writing its intent and deleting its
   * originals. The batch's copies were posted in one atomic post under the intent's tag: either
   * all are in the target or none.
   */
  private async recover(intent: CopyIntent): Promise<void> {
    const copies = await this.findCopies(intent.tag);
    const live = intent.kind === 'claimed' && (await this.claimLive(intent.claimId));
    if (copies.length === 0) {
      if (live) await this.source.claims.delete(this.p, this.q, intent.claimId);
    } else if (live) {
      await this.source.messages.bulkDelete(this.p, this.q, intent.ids, { claimIds: [intent.claimId] });
      this.record.copied += copies.length;
    } else {
      // The claim is gone: consumers may hold some originals now. Keep one of each message.
      const originals = await ignoreMissing(this.source.messages.bulkGet(this.p, this.q, intent.ids), []);
      const byId = new Map(originals.map((m) => [m.id, m]));
      const aligned = copies.length === intent.ids.length;
      for (const [i, id] of intent.ids.entries()) {
        const original = byId.get(id);
        if (original === undefined) continue; // deleted already (by this batch, or by a client)
        if (original.claimId === null) {
          await this.source.messages.delete(this.p, this.q, id).catch((error: unknown) => {
            if (!(error instanceof MessageClaimedError)) throw error;
          });
          continue;
        }
        const copy = aligned ? copies[i] : undefined;
        try {
          if (copy === undefined) throw new MessageClaimedError(id);
          await this.target.messages.delete(this.p, this.q, copy);
        } catch (error) {
          if (!(error instanceof MessageClaimedError)) throw error;
          this.record.recovered += 1; // both the original and its copy are held: delivered twice
        }
      }
      this.record.copied += copies.length;
    }
    this.record.intent = null;
    await this.persist(true);
  }

  /** The ids of the target's messages posted under `tag`, in order. */
  private async findCopies(tag: string): Promise<string[]> {
    const found: string[] = [];
    for await (const m of this.everyMessage(this.target)) if (m.clientId === tag) found.push(m.id);
    return found;
  }

  /** Every message of the queue in a store, claimed and delayed ones too (none when the queue is gone). */
  private async *everyMessage(store: DataDriver): AsyncGenerator<Message> {
    for await (const messages of this.pages(store, { includeClaimed: true, includeDelayed: true })) yield* messages;
  }

  /** The queue's messages in a store, a batch-sized page at a time, echoes included (none when the queue is gone). */
  private async *pages(
    store: DataDriver,
    include: Pick<ListMessagesOptions, 'includeClaimed' | 'includeDelayed'>,
  ): AsyncGenerator<Message[]> {
    let marker: string | undefined;
    for (;;) {
      const page = await ignoreMissing(
        store.messages.list(this.p, this.q, {
          limit: MOVE_BATCH,
          echo: true,
          ...include,
          ...(marker !== undefined ? { marker } : {}),
        }),
        null,
      );
      if (page === null || page.messages.length === 0) return;
      yield page.messages;
      if (page.marker === null || page.marker === marker) return;
      marker = page.marker;
    }
  }

  private async claimLive(claimId: string): Promise<boolean> {
    try {
      return (await this.source.claims.get(this.p, this.q, claimId)).messages.length > 0;
    } catch (error) {
      if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) return false;
      throw error;
    }
  }

  /** Releases consumers' claims in the source (claimWaitSeconds ran out): their messages are copied. */
  private async releaseClaims(): Promise<void> {
    const claims = new Set<string>();
    for await (const m of this.everyMessage(this.source)) if (m.claimId !== null) claims.add(m.claimId);
    for (const id of claims) await this.source.claims.delete(this.p, this.q, id);
    this.record.releasedClaims += claims.size;
  }

  private async copySubscriptions(): Promise<void> {
    let marker: string | undefined;
    for (;;) {
      const page = await ignoreMissing(
        this.source.subscriptions.list(this.p, this.q, {
          limit: Math.min(MOVE_BATCH, this.catalog.limits.maxSubscriptionsPerPage),
          ...(marker !== undefined ? { marker } : {}),
        }),
        null,
      );
      if (page === null || page.subscriptions.length === 0) return;
      for (const s of page.subscriptions) {
        if ((await this.target.subscriptions.getBySubscriber(this.p, this.q, s.subscriber)) !== null) continue;
        const ttl = clamp(Math.ceil((s.expiresAt - this.now()) / 1000), 1, this.catalog.limits.maxSubscriptionTtl);
        const made = await this.target.subscriptions.create(this.p, this.q, s.subscriber, { ttl, options: s.options });
        if (s.confirmed) await this.target.subscriptions.confirm(this.p, this.q, made.id, true);
      }
      if (page.marker === null || page.marker === marker) return;
      marker = page.marker;
    }
  }

  // --- helpers ------------------------------------------------------------------------------

  /** A copy of a message with what is left of its life and delay. */
  private draft(m: Message, expiresAt: number | undefined): NewMessage {
    const now = this.now();
    const limits = this.catalog.limits;
    const ttl = clamp(Math.ceil(((expiresAt ?? m.expiresAt) - now) / 1000), 1, limits.maxMessageTtl);
    const delay = m.visibleAt > now ? clamp(Math.ceil((m.visibleAt - now) / 1000), 0, limits.maxMessageDelay) : 0;
    return { body: m.body, ttl, ...(delay > 0 ? { delay } : {}), ...(m.checksum ? { checksum: m.checksum } : {}) };
  }

  private async sourceStats(): Promise<QueueStats> {
    const stats = await ignoreMissing(this.source.queues.stats(this.p, this.q), null);
    const s = stats ?? { claimed: 0, free: 0, delayed: 0, total: 0 };
    this.record.source = { free: s.free - s.delayed, claimed: s.claimed, delayed: s.delayed };
    return s;
  }

  /** Writes a route (this server follows it at once; the others within the cache time). */
  private async publish(route: Route): Promise<void> {
    this.check();
    if (!(await this.lease.renew())) throw new Paused('the move lease was lost; start the move again to resume it');
    if (!(await this.catalog.store.setRoute(this.p, this.q, route))) await this.cancel();
    this.catalog.remember(this.p, this.q, route);
  }

  /** Ends the move when the queue was deleted meanwhile (removing anything the move left). */
  private async checkRoute(): Promise<void> {
    const route = await this.catalog.store.getRoute(this.p, this.q);
    if (route === null || (this.record.step !== 'switched' && route.move !== this.record.id)) await this.cancel();
  }

  private async cancel(): Promise<never> {
    // Only when nothing was registered under the name since: a new queue of that name is not ours to clean.
    if ((await this.catalog.store.getRoute(this.p, this.q)) === null) {
      await this.target.queues.delete(this.p, this.q).catch(() => {});
      await this.source.queues.delete(this.p, this.q).catch(() => {});
    }
    throw new Cancelled();
  }

  private check(): void {
    if (this.stopped) throw new Paused('the server running the move stopped; start the move again to resume it');
    if (this.leaseLost) throw new Paused('the move lease was lost; start the move again to resume it');
  }

  private async wait(ms: number): Promise<void> {
    const until = this.now() + ms;
    while (this.now() < until) {
      this.check();
      await sleep(this.catalog.clock, Math.min(POLL_MS, until - this.now()));
    }
  }

  private scheduleRenewal(): void {
    this.renewTimer = this.catalog.clock.setTimer((this.lease.ttlSeconds * 1000) / 3, () => {
      this.lease.renew().then(
        (held) => {
          if (!held) this.leaseLost = true;
          else if (!this.stopped) this.scheduleRenewal();
        },
        () => this.scheduleRenewal(), // the management store is away; try again
      );
    });
  }

  private async persist(force: boolean): Promise<void> {
    const now = this.now();
    if (!force && now - this.lastPersist < PROGRESS_MS) return;
    this.lastPersist = now;
    this.record.updatedAt = now;
    await this.catalog.store.putMove(this.record);
    this.options.onProgress?.(this.snapshot());
  }

  private now(): number {
    return this.catalog.clock.now();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
