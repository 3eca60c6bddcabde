import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  type Clock,
  ClosedError,
  type Envelope,
  FolderLock,
  InvalidArgumentError,
  KeyedSerializer,
  LockedError,
  NotASpoolError,
  PosthornError,
  ResourceConflictError,
  ResourceNotFoundError,
  systemClock,
} from '../core/index.js';
import { spoolFileIo, spoolMkdir, spoolPathExists, stderrLog } from '../multispool/index.js';
import { checkIds, checkIntervals, checkReason, type PlannedMessage, planMessages } from './arguments.js';
import { DEFAULT_RETRY_INTERVALS, waitAfterJobFailure } from './attempt-policy.js';
import { DeliveryAttempts } from './delivery-attempt.js';
import { EventHub } from './event-hub.js';
import { FolderSync } from './folder-sync.js';
import { describeMessage, type MessageMeta, queueOf } from './message-metadata.js';
import { type Changed, SpoolFolder } from './spool-folder.js';
import { checkOptions, type SpoolOptions } from './spool-options.js';
import { SpoolScheduler, type Tracked } from './spool-scheduler.js';
import { freezeMeta, quarantineMeta, recoverMeta, removeMeta, sendMeta } from './transitions.js';
import type { Section, SendWhich, SpoolEvent, SpoolStatus } from './types.js';

const DEFAULT_DELIVERY_TIMEOUT_MS = 10 * 60_000;
/** The folder lock's file: in a folder this spool made, everything else is the spool's own. */
const LOCK_FILE = '.lock';

/**
 * async_smtp's delivery Spool with slimta's relay-queue semantics: messages are written to disk
 * before `add` resolves, handed to a delivery function under a concurrency bound, retried on
 * their intervals with per-recipient results kept, then frozen (or bounced through a hook) when
 * the intervals run out. Operators freeze, send, remove, recover and quarantine; `status()` and
 * `events()` show what happens. The folder is locked while the spool runs, and everything is
 * reloaded at the next start: a message being delivered when the process died is delivered
 * again (at least once), with the results of its earlier attempts kept.
 */
export class Spool<H = unknown> {
  private readonly scheduler: SpoolScheduler;
  private readonly sync: FolderSync;
  private readonly attempts: DeliveryAttempts<H>;
  private readonly locks = new KeyedSerializer();
  private readonly hub: EventHub;
  private closed = false;
  private readonly clock: Clock;
  private readonly retryIntervals: readonly number[];

  private constructor(
    private readonly folder: SpoolFolder,
    private readonly lock: FolderLock,
    options: SpoolOptions<H>,
  ) {
    const clock = options.clock ?? systemClock;
    const log = options.log ?? stderrLog;
    this.clock = clock;
    this.retryIntervals = options.retryIntervals ?? DEFAULT_RETRY_INTERVALS;
    this.hub = new EventHub(() => clock.now());
    const emit = (event: SpoolEvent) => this.hub.emit(event);
    this.attempts = new DeliveryAttempts<H>({
      folder,
      deliver: options.deliver,
      bounce: options.bounce,
      clock,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS,
      log,
      emit,
    });
    this.scheduler = new SpoolScheduler({
      clock,
      maxConcurrentJobs: options.maxConcurrentJobs ?? 16,
      locks: this.locks,
      runJob: (id, t) => this.deliverOnce(id, t),
      jobFailed: (id, error) =>
        log('error', 'a delivery job failed; the message stays spooled', {
          spool: this.dir,
          id,
          error: (error as Error)?.message ?? String(error),
        }),
      retryAfterJobFailureMs: waitAfterJobFailure(this.retryIntervals),
    });
    this.sync = new FolderSync({ folder, scheduler: this.scheduler, locks: this.locks, clock, log, emit });
  }

  /**
   * Locks the spool folder (LockedError if another process runs a spool on it), reloads every
   * message on disk — returning those a dead process held to their queue — and resumes their
   * schedules. Not for folders on network file systems.
   */
  static async create<H = unknown>(options: SpoolOptions<H>): Promise<Spool<H>> {
    checkOptions(options);
    const dir = resolve(options.dir);
    const log = options.log ?? stderrLog;
    // True only when this call made the folder: another process may be making it at this moment.
    let made = false;
    // Through the spools' FileIo, so a fault can be injected here too. (The cleanup below, after
    // a failure, stays direct: it only removes what this call made.)
    if (!(await spoolPathExists(dir))) {
      if (options.createIfMissing === false) throw new NotASpoolError(dir, 'the folder does not exist');
      await spoolMkdir(dirname(dir), { recursive: true });
      try {
        await spoolMkdir(dir);
        made = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    let lock: FolderLock;
    try {
      lock = FolderLock.acquire(dir, LOCK_FILE, spoolFileIo());
    } catch (error) {
      // Locked: another process owns the folder (perhaps one that took it the moment this call
      // made it) and is filling it; it is not ours to remove. Otherwise only an empty folder goes.
      if (made && !(error instanceof LockedError)) removeIfEmpty(dir);
      throw error;
    }
    try {
      const folder = await SpoolFolder.open(dir, { createIfMissing: options.createIfMissing ?? true, log });
      const spool = new Spool<H>(folder, lock, options);
      await spool.sync.load();
      spool.sync.start(options.rescanIntervalMs ?? 30_000);
      return spool;
    } catch (error) {
      // What this call made goes while its lock still keeps every other spool out: once the lock
      // is released another process may take the folder at once and fill it, and that is not
      // ours to remove — so after the release only an empty folder goes.
      if (made) removeAllBut(dir, LOCK_FILE);
      lock.release();
      if (made) removeIfEmpty(dir);
      throw error;
    }
  }

  get dir(): string {
    return this.folder.dir;
  }

  /**
   * Writes the message to disk, one spooled message per section, and queues each for delivery
   * at once; resolves with their ids once all are durable. Order of delivery is not promised.
   */
  async add(envelope: Envelope, sections: readonly Section<H>[] = [{}]): Promise<string[]> {
    this.checkOpen();
    const planned = this.plan(envelope, sections, 'send-now', null);
    await this.writeAll(planned);
    for (const { meta } of planned) {
      this.scheduler.track(meta, 'active');
      this.hub.emit({ type: 'spooled', id: meta.id, at: this.clock.now() });
    }
    this.scheduler.pump();
    return planned.map((p) => p.meta.id);
  }

  /**
   * `quarantine(envelope, sections, { reason })` writes a new message straight into quarantine
   * (async_smtp's signature: for mail that must be kept but not sent); `quarantine(ids, { reason })`
   * moves waiting or frozen messages there.
   */
  async quarantine(envelope: Envelope, sections: readonly Section<H>[], options: { reason: string }): Promise<string[]>;
  async quarantine(ids: readonly string[], options: { reason: string }): Promise<string[]>;
  async quarantine(
    first: Envelope | readonly string[],
    second: readonly Section<H>[] | { reason: string },
    third?: { reason: string },
  ): Promise<string[]> {
    this.checkOpen();
    if (Array.isArray(first)) {
      const reason = checkReason((second as { reason: string })?.reason);
      const ids = checkIds(first);
      await this.operate(
        ids,
        (meta) => quarantineMeta(meta, reason),
        (c) => (c.after ? { type: 'quarantined', id: c.after.id, at: this.clock.now(), reason } : null),
      );
      return ids;
    }
    const reason = checkReason(third?.reason);
    const planned = this.plan(first as Envelope, second as readonly Section<H>[], 'quarantined', reason);
    await this.writeAll(planned);
    for (const { meta } of planned) {
      this.scheduler.track(meta, 'quarantine');
      this.hub.emit({ type: 'quarantined', id: meta.id, at: this.clock.now(), reason });
    }
    return planned.map((p) => p.meta.id);
  }

  /**
   * Sends now: frozen messages are unfrozen, waiting ones brought forward, and `retryIntervals`
   * are used before any intervals the message had left. `which`: 'all' (frozen and waiting),
   * 'frozen', or a list of ids. Messages being delivered are left to finish.
   */
  async send(options: { retryIntervals?: readonly number[]; which?: SendWhich } = {}): Promise<void> {
    this.checkOpen();
    const intervals = checkIntervals(options.retryIntervals ?? [], 'retryIntervals');
    const which = options.which ?? 'all';
    let ids: string[];
    if (which === 'all' || which === 'frozen') {
      ids = [...this.scheduler.entries()]
        .filter(
          ([, t]) =>
            t.queue === 'frozen' ||
            (which === 'all' && t.queue === 'active' && !t.delivering && t.meta.status === 'send-at'),
        )
        .map(([id]) => id);
    } else if (Array.isArray(which)) {
      ids = checkIds(which).filter((id) => !this.scheduler.get(id)?.delivering);
    } else {
      throw new InvalidArgumentError('which', "must be 'all', 'frozen' or a list of message ids");
    }
    await this.operate(
      ids,
      (meta) => sendMeta(meta, intervals, this.clock.now()),
      (c) => (c.before.status === 'frozen' ? { type: 'unfrozen', id: c.before.id, at: this.clock.now() } : null),
    );
  }

  /**
   * Freezes messages: no delivery until they are sent again. A message being delivered is frozen
   * when its attempt ends (unless that attempt delivers it).
   */
  async freeze(ids: readonly string[], options: { reason?: string } = {}): Promise<void> {
    this.checkOpen();
    const list = checkIds(ids);
    const reason = options.reason === undefined ? 'frozen by an operator' : checkReason(options.reason);
    for (const id of list) {
      const t = this.scheduler.get(id);
      if (t?.delivering) t.freezeRequested = reason;
    }
    await this.operate(
      list,
      (meta) => freezeMeta(meta, reason),
      (c) =>
        c.after && c.before.status !== 'frozen'
          ? { type: 'frozen', id: c.after.id, at: this.clock.now(), reason }
          : null,
      { goneIsDone: true },
    );
  }

  /** Moves frozen messages to `removed` (kept on disk; `recover` brings them back). Only frozen messages. */
  async remove(ids: readonly string[]): Promise<void> {
    this.checkOpen();
    await this.operate(checkIds(ids), removeMeta, (c) => ({ type: 'removed', id: c.before.id, at: this.clock.now() }));
  }

  /** Brings removed or quarantined messages back, frozen (send them to deliver). */
  async recover(options: { ids: readonly string[]; from: 'removed' | 'quarantined' }): Promise<void> {
    this.checkOpen();
    const from = options?.from;
    if (from !== 'removed' && from !== 'quarantined') {
      throw new InvalidArgumentError('from', "must be 'removed' or 'quarantined'");
    }
    await this.operate(
      checkIds(options.ids),
      (meta) => recoverMeta(meta, from),
      (c) => ({ type: 'recovered', id: c.before.id, at: this.clock.now(), from }),
    );
  }

  /** At most `n` deliveries at once from the next start on; running ones are not interrupted. */
  setMaxConcurrentJobs(n: number): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError('maxConcurrentJobs', 'must be an integer of at least 1');
    }
    this.scheduler.setMaxConcurrentJobs(n);
  }

  /**
   * Starts no new delivery and waits for the running ones: 'finished' when they are done,
   * 'timeout' when `timeout` (ms on the spool's clock, or a promise) comes first. Frozen and
   * waiting messages are untouched; new ones can still be added (to disk, for the next start).
   */
  killAndFlush(options: { timeout?: number | Promise<unknown> } = {}): Promise<'finished' | 'timeout'> {
    return this.scheduler.killAndFlush(options.timeout);
  }

  /** killAndFlush, then stops timers and watches, ends event streams and releases the folder lock. */
  async close(options: { timeout?: number | Promise<unknown> } = {}): Promise<'finished' | 'timeout'> {
    if (this.closed) return 'finished';
    const result = await this.killAndFlush(options);
    this.closed = true;
    this.sync.close();
    this.scheduler.close();
    this.hub.end();
    this.lock.release();
    return result;
  }

  /** What is in the spool, from memory: each message's state, next attempt, attempts and last error. */
  status(): SpoolStatus<H> {
    const messages = [...this.scheduler.entries()].map(([, t]) => describeMessage<H>(t.meta, t.delivering));
    messages.sort((a, b) => a.spooledAt - b.spooledAt || (a.id < b.id ? -1 : 1));
    const { scheduler } = this;
    return {
      messages,
      running: scheduler.runningJobs,
      maxConcurrentJobs: scheduler.maxConcurrentJobs,
      killed: scheduler.isKilled,
    };
  }

  /** The true number of messages waiting or frozen, read from disk. */
  countFromDisk(): Promise<number> {
    return this.folder.countFromDisk();
  }

  /** Spooled, delivering, delivered, delayed, frozen, unfrozen, bounced, removed, recovered, quarantined — from now on. */
  events(): AsyncIterableIterator<SpoolEvent> {
    return this.hub.subscribe();
  }

  /** Resolves when no delivery is running or due now (later attempts may still be scheduled). */
  whenIdle(): Promise<void> {
    return this.scheduler.whenIdle();
  }

  /** One attempt of a job, and what it leaves in memory: the message's new state, or gone. */
  private async deliverOnce(id: string, t: Tracked): Promise<void> {
    const outcome = await this.attempts.run(id, () => t.freezeRequested);
    if (outcome === 'not-found') {
      // Another process moved or took it (an operator's command): find out where it went.
      this.sync.scheduleRefresh(id);
      return;
    }
    const { after, events } = outcome;
    if (after === null) this.scheduler.untrack(id);
    else {
      t.meta = after;
      t.queue = queueOf(after.status);
      t.rescheduleAfterJob = true;
    }
    for (const event of events) this.hub.emit(event);
  }

  // --- operator actions ---------------------------------------------------------------------------

  /**
   * Applies a transition to each message. Everything is checked first — every id known, every
   * message in a state the transition accepts — so a bad request changes nothing; then each is
   * changed under a checkout. A message another process holds meanwhile is reported at the end.
   */
  private async operate(
    ids: string[],
    transition: (meta: MessageMeta) => MessageMeta,
    event: (changed: Changed) => SpoolEvent | null,
    options: { goneIsDone?: boolean } = {},
  ): Promise<void> {
    for (const id of ids) {
      const t = this.scheduler.get(id);
      if (t?.delivering) {
        if (options.goneIsDone) continue; // freeze: applied when the attempt ends
        throw new ResourceConflictError('spool message', id, 'is being delivered; try again when the attempt ends');
      }
      let meta = t?.meta;
      if (!meta) {
        const found = await this.folder.locate(id);
        if (found === null) throw new ResourceNotFoundError('spool message', id);
        if (found === 'busy')
          throw new ResourceConflictError('spool message', id, 'is held by another process; try again');
        meta = found.meta;
      }
      transition(meta); // throws when the message's state does not allow it
    }
    const failures: PosthornError[] = [];
    for (const id of ids) {
      try {
        await this.locks.run(id, async () => {
          const changed = await this.folder.change(id, (meta) => transition(meta));
          if (changed === 'not-found') {
            if (options.goneIsDone) return; // delivered meanwhile: nothing left to do
            throw new ResourceNotFoundError('spool message', id);
          }
          if (changed.after === null) this.scheduler.untrack(id);
          else if (JSON.stringify(changed.after) !== JSON.stringify(changed.before) || !this.scheduler.has(id)) {
            this.scheduler.track(changed.after, queueOf(changed.after.status));
            const e = event(changed);
            if (e) this.hub.emit(e);
          }
        });
      } catch (error) {
        if (!(error instanceof PosthornError)) throw error;
        failures.push(error);
      }
    }
    this.scheduler.pump();
    const [first] = failures;
    if (first) {
      if (failures.length > 1)
        first.message += ` (and ${failures.length - 1} more: ${failures
          .slice(1)
          .map((f) => f.message)
          .join('; ')})`;
      throw first;
    }
  }

  // --- helpers ------------------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(`spool ${this.dir}`);
  }

  private plan(
    envelope: Envelope,
    sections: readonly Section<H>[],
    status: 'send-now' | 'quarantined',
    reason: string | null,
  ): PlannedMessage[] {
    return planMessages(envelope, sections, {
      status,
      reason,
      now: this.clock.now(),
      retryIntervals: this.retryIntervals,
    });
  }

  /** Writes every section; if one fails, the ones written are taken back so a failed add leaves nothing. */
  private async writeAll(planned: PlannedMessage[]): Promise<void> {
    const results = await Promise.allSettled(planned.map((p) => this.folder.write(p.meta, p.envelope)));
    const failure = results.find((r) => r.status === 'rejected');
    if (!failure) return;
    await Promise.all(
      planned.map((p, i) =>
        results[i]?.status === 'fulfilled' ? this.folder.discard(p.meta).catch(() => {}) : undefined,
      ),
    );
    throw (failure as PromiseRejectedResult).reason;
  }
}

/** Empties a folder but for `keep`; what cannot be removed stays (the folder then stays too). */
function removeAllBut(dir: string, keep: string): void {
  try {
    for (const name of readdirSync(dir)) if (name !== keep) rmSync(join(dir, name), { recursive: true, force: true });
  } catch {
    // A disk that fails here fails the removal, not the error being reported.
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty, or gone already: leave it.
  }
}
