import type { Clock, KeyedSerializer, Timer } from '../core/index.js';
import type { MessageMeta, SpoolQueue } from './message-metadata.js';

/** A message this spool knows of, with where its delivery stands in this process. */
export interface Tracked {
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

export interface SpoolSchedulerOptions {
  clock: Clock;
  maxConcurrentJobs: number;
  /** One change at a time per message: a job holds its message's turn for all of its attempt. */
  locks: KeyedSerializer;
  /** One delivery attempt of a message that came due. */
  runJob: (id: string, t: Tracked) => Promise<void>;
  /** A job that threw: told here, and the message is tried again after `retryAfterJobFailureMs`. */
  jobFailed: (id: string, error: unknown) => void;
  retryAfterJobFailureMs: number;
}

/**
 * When each message is delivered: a timer per waiting message on the spool's clock, a queue of
 * the ones due, and at most `maxConcurrentJobs` jobs at once. It knows nothing of disks; what a
 * job does is the Spool's.
 */
export class SpoolScheduler {
  private readonly messages = new Map<string, Tracked>();
  private readonly readyIds: string[] = [];
  private running = 0;
  private maxJobs: number;
  private killed = false;
  private closed = false;
  private flushWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: SpoolSchedulerOptions) {
    this.maxJobs = o.maxConcurrentJobs;
  }

  get(id: string): Tracked | undefined {
    return this.messages.get(id);
  }

  has(id: string): boolean {
    return this.messages.has(id);
  }

  entries(): IterableIterator<[string, Tracked]> {
    return this.messages.entries();
  }

  get runningJobs(): number {
    return this.running;
  }

  get maxConcurrentJobs(): number {
    return this.maxJobs;
  }

  /** True after kill: no new deliveries start. */
  get isKilled(): boolean {
    return this.killed;
  }

  setMaxConcurrentJobs(n: number): void {
    this.maxJobs = n;
    this.pump();
  }

  /** Knows `meta` (anew or as its new state) in `queue`, and schedules it if it waits for delivery. */
  track(meta: MessageMeta, queue: SpoolQueue): Tracked {
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

  untrack(id: string): void {
    const t = this.messages.get(id);
    t?.timer?.cancel();
    this.messages.delete(id);
  }

  /** Sets the message's timer from its metadata: ready now when due, woken later when not. */
  schedule(t: Tracked): void {
    t.timer?.cancel();
    t.timer = null;
    if (t.queue !== 'active' || t.delivering) return;
    const now = this.o.clock.now();
    const due = t.meta.status === 'send-at' ? (t.meta.nextAttemptAt ?? now) : now;
    if (due <= now) {
      this.makeReady(t);
      return;
    }
    this.wakeAfter(t, due - now);
  }

  /** Starts jobs for the ready messages while the concurrency bound allows. */
  pump(): void {
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

  /**
   * Starts no new job and waits for the running ones: 'finished' when they are done, 'timeout'
   * when `timeout` (ms on the clock, or a promise) comes first.
   */
  async killAndFlush(timeout: number | Promise<unknown> | undefined): Promise<'finished' | 'timeout'> {
    this.killed = true;
    this.checkIdle();
    if (this.running === 0) return 'finished';
    const flushed = new Promise<'finished'>((resolve) => this.flushWaiters.push(() => resolve('finished')));
    if (timeout === undefined) return flushed;
    let timer: Timer | undefined;
    const late =
      typeof timeout === 'number'
        ? new Promise<'timeout'>((resolve) => {
            timer = this.o.clock.setTimer(timeout, () => resolve('timeout'));
          })
        : Promise.resolve(timeout).then(() => 'timeout' as const);
    const result = await Promise.race([flushed, late]);
    timer?.cancel();
    return result;
  }

  /** Stops every timer for good; whenIdle callers are let go. */
  close(): void {
    this.closed = true;
    for (const t of this.messages.values()) t.timer?.cancel();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves when no job is running or due now (later attempts may still be scheduled). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Makes the message ready for delivery once `ms` have passed on the clock. */
  private wakeAfter(t: Tracked, ms: number): void {
    t.timer = this.o.clock.setTimer(ms, () => {
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

  private startJob(id: string, t: Tracked): void {
    t.delivering = true;
    this.running++;
    void this.o.locks
      .run(id, () => this.o.runJob(id, t))
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

  /** A job broke outside the delivery function (a disk error): the message stays, tried again later. */
  private jobFailed(id: string, t: Tracked, error: unknown): void {
    this.o.jobFailed(id, error);
    if (this.messages.get(id) !== t || t.queue !== 'active') return;
    t.timer?.cancel();
    this.wakeAfter(t, this.o.retryAfterJobFailureMs);
  }

  private isIdle(): boolean {
    if (this.running > 0) return false;
    if (this.killed || this.closed) return true;
    return !this.readyIds.some((id) => this.messages.get(id)?.ready);
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
