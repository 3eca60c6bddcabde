import { randomUUID } from 'node:crypto';
import { QueueNotFoundError, ResourceConflictError, ResourceNotFoundError } from '../core/index.js';
import { type Catalog, EMBEDDED_POOL } from './catalog.js';
import { Lease } from './lease.js';
import { type MoveRecord, moveKey } from './management-store.js';
import { type MoveOptions, MoveRun } from './move-run.js';

/** Seconds the move lease lasts without renewal; it is renewed every third of that. */
const LEASE_SECONDS = 10;

/** A move record with whether some process is working on it now. */
export type MoveReport = MoveRecord & { active: boolean };

/**
 * Moves live queues between pools — what Zaqar's pooling never had. The protocol, designed for
 * several stateless servers that route with cached catalogue entries (at most `cacheMs` old) and
 * whose storage calls land within `settleMs` of routing; G = cacheMs + settleMs:
 *
 * 1. starting: the target pool gets the queue with the source's metadata.
 * 2. copying: the route says {pool: S, to: T, phase: copying}. Posts still go to S; claims and pops
 *    take from T first, then S; calls by message or claim id try S then T; deletes go to both.
 *    The mover first waits G, so that every server follows the new route before T holds a single
 *    message (a server still on the old route would otherwise miss T's messages by id). Then it
 *    copies in batches: it CLAIMS up to 100 free messages of S (so no consumer can take them),
 *    writes an intent (claim id, the batch's tag) to the move record, posts copies to T under the
 *    Client-ID `tag` (the remaining ttl, delay and checksum kept), and deletes the originals with
 *    its claim. Copies go to T in S's order and T is consumed first, so the order holds — except
 *    that a consumer claiming while a batch is on its way gets the messages after that batch first
 *    (the order is off by about one batch, for as long as the copying lasts).
 * 3. draining: when S's free backlog fits in a batch (or copying has run a minute), the route says
 *    phase draining: posts go to T. The mover keeps copying what arrives in S — from servers that
 *    have not seen the change yet — and waits at least G, until S holds nothing: claims made by
 *    consumers in S stay valid and are served from S until they are deleted or expire (or, with
 *    `claimWaitSeconds`, until they are released); delayed messages are copied with their
 *    remaining delay while more than 5 s from visible, else taken when visible. Subscriptions,
 *    frozen since the move began, are copied, and the metadata synced.
 * 4. switched: the route says {pool: T}. The mover waits G more (servers on the moving route still
 *    look in S first, harmlessly), copies anything that landed late, and deletes the queue's data
 *    in S.
 *
 * Guarantees: no message is lost or delivered twice by the move — a message is in exactly one
 * pool except while the mover's claim holds the original and its copy is not yet posted, or is
 * posted and the original not yet deleted; no consumer can take the original then. A mover that
 * dies mid-batch leaves an intent; whoever resumes the move finds the batch's copies in T by their
 * tag and finishes the batch (deletes the originals) or undoes it (releases the claim). Only if a
 * mover stalls longer than its claim (60 s) between posting copies and deleting originals, or the
 * resume comes after that, may a consumer have taken an original meanwhile: its copy is withdrawn
 * when still free, else the message is delivered twice and counted in `recovered`.
 * Claims in flight stay valid: a consumer's claim in S keeps working through the move (the move
 * waits for it); claims made in T are ordinary claims of the queue's new pool. Only
 * `claimWaitSeconds` ends a claim early, like an expiry: the consumer's later calls on it answer
 * 404 and the messages are delivered again.
 * Costs: message ids, ages, echo filtering (copies carry the mover's Client-ID) and claim counts
 * restart in the target; subscription ids change; a message with less than a minute to live may
 * live up to a minute longer. Only one move of a queue runs at a time (a lease in the management
 * store); a move that stops (its server died, a pool went away) is resumed by starting it again,
 * and every server routes correctly in every intermediate state meanwhile.
 */
export class QueueMover {
  private readonly running = new Map<string, MoveRun>();

  constructor(private readonly catalog: Catalog) {}

  /** Moves running in this process now (the server's metrics report it). */
  get runningCount(): number {
    return this.running.size;
  }

  /**
   * Starts moving a queue to `to` (or resumes its stopped move) and answers the move record; the
   * move runs on in this process. A queue already in `to` answers a finished record at once.
   */
  async start(project: string, queue: string, to: string, options: MoveOptions = {}): Promise<MoveRecord> {
    const run = await this.prepare(project, queue, to, options);
    if (!(run instanceof MoveRun)) return run.record;
    const key = moveKey(project, queue);
    this.running.set(key, run);
    void run.execute().finally(() => this.running.delete(key));
    return run.snapshot();
  }

  /** Moves a queue and resolves when the move has ended (done, failed or cancelled). */
  async move(project: string, queue: string, to: string, options: MoveOptions = {}): Promise<MoveRecord> {
    const run = await this.prepare(project, queue, to, options);
    if (!(run instanceof MoveRun)) return run.record;
    const key = moveKey(project, queue);
    this.running.set(key, run);
    try {
      return await run.execute();
    } finally {
      this.running.delete(key);
    }
  }

  /** The queue's last move, and whether a process works on it now; null when it never moved. */
  async status(project: string, queue: string): Promise<MoveReport | null> {
    const key = moveKey(project, queue);
    const local = this.running.get(key);
    if (local) return { ...local.snapshot(), active: true };
    const record = await this.catalog.store.getMove(project, queue);
    if (record === null) return null;
    return { ...record, active: record.status === 'running' && (await Lease.isHeld(this.catalog.store.driver, key)) };
  }

  /** Stops the moves running here (each at a safe point; they resume when started again). */
  async close(): Promise<void> {
    const runs = [...this.running.values()];
    for (const run of runs) run.stop();
    await Promise.all(runs.map((run) => run.done.catch(() => {})));
  }

  private async prepare(
    project: string,
    queue: string,
    to: string,
    options: MoveOptions,
  ): Promise<MoveRun | { record: MoveRecord }> {
    const key = moveKey(project, queue);
    const here = this.running.get(key);
    if (here) {
      if (here.snapshot().to !== to) throw movingElsewhere(queue, here.snapshot().to);
      return { record: here.snapshot() };
    }
    if (!(to === EMBEDDED_POOL && this.catalog.embedded !== null) && (await this.catalog.pool(to)) === null) {
      throw new ResourceNotFoundError('pool', to);
    }
    const store = this.catalog.store;
    const lease = await Lease.acquire(store.driver, key, LEASE_SECONDS);
    if (lease === null) {
      const record = await store.getMove(project, queue);
      if (record !== null && record.status === 'running' && record.to === to) return { record };
      throw new ResourceConflictError('queue', queue, 'is being moved by another server; let that move finish first');
    }
    try {
      const now = this.catalog.clock.now();
      const previous = await store.getMove(project, queue);
      if (previous !== null && (previous.status === 'running' || previous.status === 'failed')) {
        if (previous.to !== to) throw movingElsewhere(queue, previous.to);
        const resumed: MoveRecord = { ...previous, status: 'running', error: null, updatedAt: now };
        await store.putMove(resumed);
        return new MoveRun(this.catalog, lease, resumed, options);
      }
      const route = await store.getRoute(project, queue);
      if (route === null) throw new QueueNotFoundError(project, queue);
      if (route.to !== undefined && route.to !== to) throw movingElsewhere(queue, route.to);
      const record: MoveRecord = {
        id: route.move ?? randomUUID(),
        project,
        queue,
        from: route.pool,
        to,
        status: 'running',
        step: route.to === undefined ? 'starting' : (route.phase ?? 'copying'),
        copied: 0,
        source: { free: 0, claimed: 0, delayed: 0 },
        releasedClaims: 0,
        recovered: 0,
        startedAt: now,
        updatedAt: now,
        drainingAt: null,
        switchedAt: null,
        finishedAt: null,
        error: null,
        intent: null,
      };
      if (route.pool === to && route.to === undefined) {
        const done: MoveRecord = { ...record, status: 'done', step: 'finished', finishedAt: now };
        await store.putMove(done);
        await lease.release();
        return { record: done };
      }
      await store.putMove(record);
      return new MoveRun(this.catalog, lease, record, options);
    } catch (error) {
      await lease.release().catch(() => {});
      throw error;
    }
  }
}

function movingElsewhere(queue: string, to: string): ResourceConflictError {
  return new ResourceConflictError('queue', queue, `is moving to pool ${to}; let that move finish first`);
}
