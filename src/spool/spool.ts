import { rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  type Clock,
  ClosedError,
  CorruptDataError,
  type Envelope,
  FolderLock,
  InvalidArgumentError,
  isPlainObject,
  KeyedSerializer,
  LockedError,
  NotASpoolError,
  PosthornError,
  ResourceConflictError,
  ResourceNotFoundError,
  type SpooledEnvelope,
  systemClock,
  type Timer,
} from '../core/index.js';
import {
  type DataFile,
  type EntryDecision,
  NewerMetadataError,
  type QueueWatch,
  type SpoolLog,
  spoolFileIo,
  spoolMkdir,
  spoolPathExists,
  stderrLog,
  watchQueue,
} from '../multispool/index.js';
import { checkIds, checkIntervals, checkReason, type PlannedMessage, planMessages } from './arguments.js';
import { callDelivery, type ReportedOutcome, readReport } from './delivery-call.js';
import { EventHub } from './event-hub.js';
import {
  describeMessage,
  MESSAGE_ID_PATTERN,
  type MessageMeta,
  queueOf,
  SPOOL_QUEUES,
  type SpoolQueue,
} from './message-metadata.js';
import { type Changed, SpoolFolder } from './spool-folder.js';
import { freezeMeta, quarantineMeta, recoverMeta, removeMeta, sendMeta } from './transitions.js';
import type {
  BounceHook,
  DeliveryFunction,
  FailedRecipient,
  RecipientInfo,
  Section,
  SendWhich,
  SpoolEvent,
  SpoolStatus,
} from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Retry intervals when none are given: quick at first, then hourly and daily, about four and a
 * half days in all (Postfix keeps mail five days by default) before the message freezes or bounces.
 */
export const DEFAULT_RETRY_INTERVALS: readonly number[] = Object.freeze([
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  4 * HOUR,
  8 * HOUR,
  12 * HOUR,
  24 * HOUR,
  24 * HOUR,
  24 * HOUR,
]);

export interface SpoolOptions<H> {
  /** The spool folder; made when missing unless `createIfMissing` is false. */
  dir: string;
  /** Delivers one section to its pending recipients and reports per recipient. */
  deliver: DeliveryFunction<H>;
  /** Time for schedules and timeouts; tests pass a FakeClock. */
  clock?: Clock;
  /** Default retry intervals in ms (see DEFAULT_RETRY_INTERVALS). */
  retryIntervals?: readonly number[];
  /** Deliveries at once; default 16. */
  maxConcurrentJobs?: number;
  /** A delivery that has not reported after this long (ms) counts as try-later; default 10 minutes. */
  deliveryTimeoutMs?: number;
  /** Called when a message fails for good; without it such messages are frozen. */
  bounce?: BounceHook<H>;
  log?: SpoolLog;
  createIfMissing?: boolean;
  /**
   * Other processes (the `posthorn spool` command) may change messages on disk; change notices
   * tell this spool at once, and a re-scan this often (wall-clock ms) catches lost notices. Default 30 s.
   */
  rescanIntervalMs?: number;
}

interface Tracked {
  meta: MessageMeta;
  queue: SpoolQueue;
  timer: Timer | null;
  ready: boolean;
  delivering: boolean;
  /** Set by freeze() while the message is being delivered: applied when the attempt ends. */
  freezeRequested: string | null;
  /** Set by a job that saved new metadata: schedule it once the job is over. */
  rescheduleAfterJob: boolean;
}

/** What an attempt leaves: the metadata saved (null when the message left the spool) and its events. */
interface AttemptOutcome {
  after: MessageMeta | null;
  events: SpoolEvent[];
}

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
  private readonly messages = new Map<string, Tracked>();
  private readonly readyIds: string[] = [];
  private readonly locks = new KeyedSerializer();
  private readonly hub: EventHub;
  private running = 0;
  private maxJobs: number;
  private killed = false;
  private closed = false;
  private flushWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private watches: QueueWatch[] = [];
  private readonly pendingRefresh = new Set<string>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private readonly clock: Clock;
  private readonly deliver: DeliveryFunction<H>;
  private readonly bounce: BounceHook<H> | undefined;
  private readonly retryIntervals: readonly number[];
  private readonly deliveryTimeoutMs: number;
  private readonly rescanIntervalMs: number;
  private readonly log: SpoolLog;

  private constructor(
    private readonly folder: SpoolFolder,
    private readonly lock: FolderLock,
    options: SpoolOptions<H>,
  ) {
    this.clock = options.clock ?? systemClock;
    this.deliver = options.deliver;
    this.bounce = options.bounce;
    this.retryIntervals = options.retryIntervals ?? DEFAULT_RETRY_INTERVALS;
    this.maxJobs = options.maxConcurrentJobs ?? 16;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10 * MINUTE;
    this.rescanIntervalMs = options.rescanIntervalMs ?? 30_000;
    this.log = options.log ?? stderrLog;
    this.hub = new EventHub(() => this.clock.now());
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
      lock = FolderLock.acquire(dir, '.lock', spoolFileIo());
    } catch (error) {
      // Locked: another process owns the folder (perhaps one that took it the moment this call
      // made it) and is filling it; it is not ours to remove. Otherwise only an empty folder goes.
      if (made && !(error instanceof LockedError)) removeIfEmpty(dir);
      throw error;
    }
    try {
      const folder = await SpoolFolder.open(dir, { createIfMissing: options.createIfMissing ?? true, log });
      const spool = new Spool<H>(folder, lock, options);
      await spool.loadFromDisk();
      spool.startWatching();
      return spool;
    } catch (error) {
      lock.release();
      if (made) rmSync(dir, { recursive: true, force: true });
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
      this.track(meta, 'active');
      this.hub.emit({ type: 'spooled', id: meta.id, at: this.clock.now() });
    }
    this.pump();
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
      this.track(meta, 'quarantine');
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
      ids = [...this.messages.entries()]
        .filter(
          ([, t]) =>
            t.queue === 'frozen' ||
            (which === 'all' && t.queue === 'active' && !t.delivering && t.meta.status === 'send-at'),
        )
        .map(([id]) => id);
    } else if (Array.isArray(which)) {
      ids = checkIds(which).filter((id) => !this.messages.get(id)?.delivering);
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
      const t = this.messages.get(id);
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
    this.maxJobs = n;
    this.pump();
  }

  /**
   * Starts no new delivery and waits for the running ones: 'finished' when they are done,
   * 'timeout' when `timeout` (ms on the spool's clock, or a promise) comes first. Frozen and
   * waiting messages are untouched; new ones can still be added (to disk, for the next start).
   */
  async killAndFlush(options: { timeout?: number | Promise<unknown> } = {}): Promise<'finished' | 'timeout'> {
    this.killed = true;
    this.checkIdle();
    if (this.running === 0) return 'finished';
    const flushed = new Promise<'finished'>((resolve) => this.flushWaiters.push(() => resolve('finished')));
    const { timeout } = options;
    if (timeout === undefined) return flushed;
    let timer: Timer | undefined;
    const late =
      typeof timeout === 'number'
        ? new Promise<'timeout'>((resolve) => {
            timer = this.clock.setTimer(timeout, () => resolve('timeout'));
          })
        : Promise.resolve(timeout).then(() => 'timeout' as const);
    const result = await Promise.race([flushed, late]);
    timer?.cancel();
    return result;
  }

  /** killAndFlush, then stops timers and watches, ends event streams and releases the folder lock. */
  async close(options: { timeout?: number | Promise<unknown> } = {}): Promise<'finished' | 'timeout'> {
    if (this.closed) return 'finished';
    const result = await this.killAndFlush(options);
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const t of this.messages.values()) t.timer?.cancel();
    this.hub.end();
    this.lock.release();
    for (const wake of this.idleWaiters.splice(0)) wake();
    return result;
  }

  /** What is in the spool, from memory: each message's state, next attempt, attempts and last error. */
  status(): SpoolStatus<H> {
    const messages = [...this.messages.values()].map((t) => describeMessage<H>(t.meta, t.delivering));
    messages.sort((a, b) => a.spooledAt - b.spooledAt || (a.id < b.id ? -1 : 1));
    return { messages, running: this.running, maxConcurrentJobs: this.maxJobs, killed: this.killed };
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
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // --- loading and watching -------------------------------------------------------------------

  private async loadFromDisk(): Promise<void> {
    const located = await this.folder.readAll();
    for (const { queue, meta } of located) this.track(meta, queue);
    const waiting = located.filter((l) => l.queue === 'active').length;
    if (located.length > 0) {
      this.log('info', 'spool loaded', { spool: this.dir, messages: located.length, waiting });
    }
    this.pump();
  }

  private startWatching(): void {
    for (const queue of SPOOL_QUEUES) {
      this.watches.push(
        watchQueue(join(this.dir, queue), (name) => (name === null ? void this.rescan() : this.scheduleRefresh(name))),
      );
    }
    this.rescanTimer = setInterval(() => void this.rescan(), this.rescanIntervalMs);
    this.rescanTimer.unref();
  }

  private scheduleRefresh(name: string): void {
    if (this.closed || !MESSAGE_ID_PATTERN.test(name)) return;
    this.pendingRefresh.add(name);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const ids = [...this.pendingRefresh];
      this.pendingRefresh.clear();
      void (async () => {
        for (const id of ids) {
          await this.refresh(id).catch((error) =>
            this.log('warn', 'could not re-read a spooled message', {
              spool: this.dir,
              id,
              error: (error as Error).message,
            }),
          );
        }
      })();
    }, 20);
    this.refreshTimer.unref();
  }

  /** Lists the queue folders and re-reads any message not where this spool thinks it is. */
  private async rescan(): Promise<void> {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const queue of SPOOL_QUEUES) {
      for (const name of await this.folder.names(queue).catch(() => [])) {
        seen.add(name);
        if (this.messages.get(name)?.queue !== queue) this.scheduleRefresh(name);
      }
    }
    for (const [id, t] of this.messages) {
      const stalled = t.queue === 'active' && !t.delivering && !t.timer && !t.ready;
      if ((!seen.has(id) && !t.delivering) || stalled) this.scheduleRefresh(id);
    }
  }

  /** Brings memory in line with what another process did to a message on disk. */
  private async refresh(id: string): Promise<void> {
    if (this.closed || this.messages.get(id)?.delivering) return;
    await this.locks.run(id, async () => {
      const known = this.messages.get(id);
      if (this.closed || known?.delivering) return;
      if (known) {
        try {
          const meta = await this.folder.multispool.entry(known.queue, id).metadata();
          if (JSON.stringify(meta) !== JSON.stringify(known.meta)) this.adopt(id, meta, known.queue);
          else if (known.queue === 'active' && !known.timer && !known.ready) {
            // Given back unchanged by another process that had it checked out while it was due.
            this.schedule(known);
            this.pump();
          }
          return;
        } catch (error) {
          if (!(error instanceof ResourceNotFoundError)) throw error;
        }
      }
      const found = await this.folder.locate(id);
      if (found === 'busy') return; // it will land somewhere and say so
      if (found === null) {
        if (known) this.untrack(id);
        return;
      }
      this.adopt(id, found.meta, found.queue);
    });
  }

  private adopt(id: string, meta: MessageMeta, queue: SpoolQueue): void {
    const before = this.messages.get(id)?.queue;
    this.track(meta, queue);
    const at = this.clock.now();
    if (before && before !== queue) {
      if (queue === 'frozen' && before === 'active')
        this.hub.emit({ type: 'frozen', id, at, reason: meta.frozenReason ?? '' });
      else if (queue === 'active' && before === 'frozen') this.hub.emit({ type: 'unfrozen', id, at });
      else if (queue === 'removed') this.hub.emit({ type: 'removed', id, at });
      else if (queue === 'quarantine')
        this.hub.emit({ type: 'quarantined', id, at, reason: meta.quarantineReason ?? '' });
      else if (queue === 'frozen' && (before === 'removed' || before === 'quarantine')) {
        this.hub.emit({ type: 'recovered', id, at, from: before === 'removed' ? 'removed' : 'quarantined' });
      }
    }
    this.pump();
  }

  // --- scheduling -------------------------------------------------------------------------------

  private track(meta: MessageMeta, queue: SpoolQueue): Tracked {
    let t = this.messages.get(meta.id);
    if (t) {
      t.meta = meta;
      t.queue = queue;
    } else {
      t = {
        meta,
        queue,
        timer: null,
        ready: false,
        delivering: false,
        freezeRequested: null,
        rescheduleAfterJob: false,
      };
      this.messages.set(meta.id, t);
    }
    this.schedule(t);
    return t;
  }

  private untrack(id: string): void {
    const t = this.messages.get(id);
    t?.timer?.cancel();
    this.messages.delete(id);
  }

  private schedule(t: Tracked): void {
    t.timer?.cancel();
    t.timer = null;
    if (t.queue !== 'active' || t.delivering) return;
    const now = this.clock.now();
    const due = t.meta.status === 'send-at' ? (t.meta.nextAttemptAt ?? now) : now;
    if (due <= now) {
      this.makeReady(t);
      return;
    }
    this.wakeAfter(t, due - now);
  }

  /** Makes the message ready for delivery once `ms` have passed on the spool's clock. */
  private wakeAfter(t: Tracked, ms: number): void {
    t.timer = this.clock.setTimer(ms, () => {
      t.timer = null;
      this.makeReady(t);
      this.pump();
    });
  }

  private makeReady(t: Tracked): void {
    if (t.ready) return;
    t.ready = true;
    this.readyIds.push(t.meta.id);
  }

  private pump(): void {
    while (!this.killed && !this.closed && this.running < this.maxJobs && this.readyIds.length > 0) {
      const id = this.readyIds.shift() as string;
      const t = this.messages.get(id);
      if (!t?.ready) continue;
      t.ready = false;
      if (t.queue !== 'active' || t.delivering) continue;
      this.startJob(id, t);
    }
    this.checkIdle();
  }

  private startJob(id: string, t: Tracked): void {
    t.delivering = true;
    this.running++;
    void this.locks
      .run(id, () => this.deliverOnce(id, t))
      .catch((error) => this.jobFailed(id, t, error))
      .finally(() => {
        t.delivering = false;
        t.freezeRequested = null;
        if (t.rescheduleAfterJob && this.messages.get(id) === t) this.schedule(t);
        t.rescheduleAfterJob = false;
        this.running--;
        if (this.running === 0) for (const wake of this.flushWaiters.splice(0)) wake();
        this.pump();
      });
  }

  private isIdle(): boolean {
    if (this.running > 0) return false;
    if (this.killed || this.closed) return true;
    return !this.readyIds.some((id) => this.messages.get(id)?.ready);
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** A job broke outside the delivery function (a disk error): logged, and tried again later. */
  private jobFailed(id: string, t: Tracked, error: unknown): void {
    this.log('error', 'a delivery job failed; the message stays spooled', {
      spool: this.dir,
      id,
      error: (error as Error)?.message ?? String(error),
    });
    if (this.messages.get(id) !== t || t.queue !== 'active') return;
    t.timer?.cancel();
    this.wakeAfter(t, Math.max(this.retryIntervals[0] ?? MINUTE, 1000));
  }

  // --- one delivery attempt ---------------------------------------------------------------------

  private async deliverOnce(id: string, t: Tracked): Promise<void> {
    const { multispool } = this.folder;
    let done: { ok: AttemptOutcome } | 'not-found';
    try {
      done = await multispool.withEntryOrNotFound<AttemptOutcome>(multispool.entry('active', id), (meta, dataFile) =>
        this.attempt(t, meta, dataFile),
      );
    } catch (error) {
      if (!(error instanceof CorruptDataError) || error instanceof NewerMetadataError) throw error;
      const rebuilt = await this.folder.quarantineCorrupt('active', id, error);
      if (!rebuilt) {
        this.untrack(id);
        return;
      }
      this.track(rebuilt, 'quarantine');
      this.hub.emit({ type: 'quarantined', id, at: this.clock.now(), reason: rebuilt.quarantineReason ?? '' });
      return;
    }
    if (done === 'not-found') {
      // Another process moved or took it (an operator's command): find out where it went.
      this.scheduleRefresh(id);
      return;
    }
    const { after, events } = done.ok;
    if (after === null) this.untrack(id);
    else {
      t.meta = after;
      t.queue = queueOf(after.status);
      t.rescheduleAfterJob = true;
    }
    for (const event of events) this.hub.emit(event);
  }

  private async attempt(
    t: Tracked,
    meta: MessageMeta,
    dataFile: DataFile<SpooledEnvelope>,
  ): Promise<[EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome]> {
    const now = this.clock.now();
    if (meta.status !== 'send-now' && meta.status !== 'send-at') return saveAttempt(meta);
    if (meta.status === 'send-at' && (meta.nextAttemptAt ?? now) > now) return saveAttempt(meta); // moved later by an operator
    if (t.freezeRequested !== null) {
      const frozen = freezeMeta(meta, t.freezeRequested);
      return saveAttempt(frozen, [{ type: 'frozen', id: meta.id, at: now, reason: t.freezeRequested }]);
    }
    const pending = meta.recipients.filter((r) => r.state === 'pending').map((r) => r.address);
    if (pending.length === 0) return this.decide(t, meta, null, now);

    let envelope: SpooledEnvelope;
    try {
      envelope = await dataFile.read();
    } catch (error) {
      const reason = `data file unreadable: ${(error as Error).message}`;
      this.log('error', 'a spooled message was quarantined', { spool: this.dir, id: meta.id, reason });
      return saveAttempt(quarantineMeta(meta, reason), [{ type: 'quarantined', id: meta.id, at: now, reason }]);
    }
    const attempt = meta.attempts + 1;
    this.hub.emit({ type: 'delivering', id: meta.id, at: now, attempt, recipients: pending });
    const result = await callDelivery(
      this.deliver,
      {
        id: meta.id,
        parentId: meta.parentId,
        attempt,
        envelope: { ...envelope, recipients: pending },
        nextHop: meta.nextHop as H | null,
      },
      this.clock,
      this.deliveryTimeoutMs,
    );
    // Without a report, every pending recipient is tried later for the same reason.
    let outcomes: Map<string, ReportedOutcome> | null = null;
    let failure = 'error' in result ? result.error : '';
    if ('report' in result) {
      outcomes = readReport(result.report, pending);
      if (outcomes === null) {
        this.log('error', 'the delivery function returned something that is not a report', {
          spool: this.dir,
          id: meta.id,
        });
        failure = 'the delivery function returned an invalid report';
      }
    }
    const finished = this.clock.now();
    let lastError: string | null = null;
    const recipients = meta.recipients.map((r): RecipientInfo => {
      if (r.state !== 'pending') return r;
      const outcome: ReportedOutcome =
        outcomes === null
          ? { status: 'try-later', reason: failure }
          : (outcomes.get(r.address) ?? { status: 'try-later', reason: 'the delivery function reported no result' });
      if (outcome.status === 'delivered') return { ...r, state: 'delivered', reason: null, at: finished };
      lastError ??= outcome.reason;
      if (outcome.status === 'failed') return { ...r, state: 'failed', reason: outcome.reason, at: finished };
      return { ...r, reason: outcome.reason };
    });
    const next: MessageMeta = { ...meta, attempts: attempt, lastAttemptAt: finished, lastError, recipients };
    return this.decide(t, next, envelope, finished);
  }

  /** After an attempt: done, retry at the next interval, or out of chances (bounce, else freeze). */
  private async decide(
    t: Tracked,
    meta: MessageMeta,
    envelope: SpooledEnvelope | null,
    now: number,
  ): Promise<[EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome]> {
    const pending = meta.recipients.filter((r) => r.state === 'pending');
    const failed = meta.recipients.filter((r) => r.state === 'failed');
    const delivered = meta.recipients.filter((r) => r.state === 'delivered').map((r) => r.address);
    const id = meta.id;
    if (pending.length === 0 && failed.length === 0) {
      return ['remove', { after: null, events: [{ type: 'delivered', id, at: now, recipients: delivered }] }];
    }
    if (t.freezeRequested !== null) {
      const reason = t.freezeRequested;
      return saveAttempt(freezeMeta(meta, reason), [{ type: 'frozen', id, at: now, reason }]);
    }
    const [wait, ...rest] = meta.retryIntervals;
    if (pending.length > 0 && wait !== undefined) {
      const until = now + wait;
      const reason = meta.lastError ?? 'not delivered';
      return saveAttempt({ ...meta, status: 'send-at', nextAttemptAt: until, retryIntervals: rest }, [
        { type: 'delayed', id, at: now, until, reason, delivered, failed: failed.map((r) => r.address) },
      ]);
    }
    const undelivered: FailedRecipient[] = [
      ...failed.map((r) => ({ recipient: r.address, reason: r.reason ?? 'failed' })),
      ...pending.map((r) => ({
        recipient: r.address,
        reason: `${r.reason ?? 'not delivered'} (no retry intervals left)`,
      })),
    ];
    let frozenReason =
      pending.length > 0
        ? 'retry intervals exhausted'
        : `failed for good: ${undelivered.map((f) => f.recipient).join(', ')}`;
    if (this.bounce) {
      try {
        const full = envelope ?? (await this.folder.multispool.entry('active', id).dataFile.read());
        await this.bounce({
          id,
          parentId: meta.parentId,
          envelope: full,
          failed: undelivered,
          delivered,
          nextHop: meta.nextHop as H | null,
        });
        return ['remove', { after: null, events: [{ type: 'bounced', id, at: now, failed: undelivered }] }];
      } catch (error) {
        frozenReason = `bounce failed: ${(error as Error)?.message ?? String(error)}`;
        this.log('error', 'the bounce hook failed; the message is frozen', {
          spool: this.dir,
          id,
          error: frozenReason,
        });
      }
    }
    return saveAttempt({ ...meta, status: 'frozen', nextAttemptAt: null, frozenReason }, [
      { type: 'frozen', id, at: now, reason: frozenReason },
    ]);
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
      const t = this.messages.get(id);
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
          if (changed.after === null) this.untrack(id);
          else if (JSON.stringify(changed.after) !== JSON.stringify(changed.before) || !this.messages.has(id)) {
            this.track(changed.after, queueOf(changed.after.status));
            const e = event(changed);
            if (e) this.hub.emit(e);
          }
        });
      } catch (error) {
        if (!(error instanceof PosthornError)) throw error;
        failures.push(error);
      }
    }
    this.pump();
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

/** An attempt that leaves the message spooled: its new metadata saved in the queue its status names. */
function saveAttempt(
  meta: MessageMeta,
  events: SpoolEvent[] = [],
): [EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome] {
  return [{ save: [meta, queueOf(meta.status)] }, { after: meta, events }];
}

function checkOptions<H>(options: SpoolOptions<H>): void {
  if (!isPlainObject(options)) throw new InvalidArgumentError('options', 'must be an object');
  if (typeof options.dir !== 'string' || options.dir.length === 0)
    throw new InvalidArgumentError('dir', 'must be a path');
  if (typeof options.deliver !== 'function') throw new InvalidArgumentError('deliver', 'must be a function');
  if (options.bounce !== undefined && typeof options.bounce !== 'function') {
    throw new InvalidArgumentError('bounce', 'must be a function');
  }
  if (options.retryIntervals !== undefined) checkIntervals(options.retryIntervals, 'retryIntervals');
  const { maxConcurrentJobs, deliveryTimeoutMs, rescanIntervalMs, clock } = options;
  if (maxConcurrentJobs !== undefined && (!Number.isInteger(maxConcurrentJobs) || maxConcurrentJobs < 1)) {
    throw new InvalidArgumentError('maxConcurrentJobs', 'must be an integer of at least 1');
  }
  for (const [field, value] of [
    ['deliveryTimeoutMs', deliveryTimeoutMs],
    ['rescanIntervalMs', rescanIntervalMs],
  ] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidArgumentError(field, 'must be a positive number of milliseconds');
    }
  }
  if (clock !== undefined && (typeof clock.now !== 'function' || typeof clock.setTimer !== 'function')) {
    throw new InvalidArgumentError('clock', 'must be a Clock');
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty, or gone already: leave it.
  }
}
