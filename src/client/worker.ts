import { EventEmitter } from 'node:events';
import {
  type Clock,
  ClosedError,
  checkInteger,
  InvalidArgumentError,
  LimitExceededError,
  type Timer,
} from '../core/index.js';
import { AbortSwitch } from './abort-switch.js';
import { type Backoff, backoffDelay, checkBackoff, DEFAULT_BACKOFF } from './backoff.js';
import { describeError, openBody, wrapBody } from './job-envelope.js';
import { LeaseLostError } from './lease-lost-error.js';
import type { FinishOutcome, WorkMessage, WorkQueue } from './work-queue.js';

/** One message as a handler sees it. */
export interface Job<Body = unknown> {
  /** The id of the message being worked on (a retry is a new message with a new id). */
  id: string;
  /** The producer's body (the retry envelope taken off). */
  body: Body;
  /** 1 for the first attempt; counts claims lost to crashes too. */
  attempt: number;
  claimId: string;
  queue: string;
}

export interface JobContext {
  /** Aborts when the lease is lost or close() runs out of time: stop, the work is no longer yours. */
  signal: AbortSignal;
}

export type JobHandler<Body = unknown> = (job: Job<Body>, context: JobContext) => unknown | Promise<unknown>;

export interface WorkerOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Seconds a claim lasts before it must be renewed (default 60). */
  ttl?: number;
  /** Seconds a claimed message outlives its claim (default 60). */
  grace?: number;
  /**
   * Most messages one claim takes (default: concurrency, at most 20 — Zaqar's default cap). A
   * store that allows fewer says so, and the worker then asks for that many.
   */
  batch?: number;
  /**
   * Messages claimed ahead of free handlers (default 0: a worker holds at most `concurrency`).
   * They wait, their lease renewed, until a handler is free, so a handler that finishes starts
   * the next job without a claim's round trip; other consumers cannot take them meanwhile.
   */
  prefetch?: number;
  /** Attempts before a job goes to the dead-letter queue (default 5). */
  maxAttempts?: number;
  backoff?: Backoff;
  /** Aborting it closes the worker. */
  signal?: AbortSignal;
  /** Milliseconds close() waits for running handlers before aborting them (default 30 s). */
  closeTimeout?: number;
  /** Wait after an empty claim, doubling from min to max milliseconds (default 50 → 1000). */
  idle?: { min?: number; max?: number };
  /** Time for leases, retries and idle waits (tests pass a FakeClock). */
  clock?: Clock;
  /** Start claiming at once (default true); else call start(). */
  autostart?: boolean;
}

export interface WorkerEvents<Body> {
  completed: [job: Job<Body>, result: unknown];
  /** The last attempt failed and there is no dead-letter queue: the message was deleted. */
  failed: [job: Job<Body>, error: unknown];
  retried: [job: Job<Body>, error: unknown, delayMs: number];
  'dead-lettered': [job: Job<Body>, error: unknown, deadLetterQueue: string];
  /** The store refused to finish the job under this worker's lease: someone else owns it now. */
  'lease-lost': [job: Job<Body>];
  /** A claim found nothing and no handler is running (again after more work came; advisory). */
  drained: [];
  error: [error: unknown];
}

/** A lease on one claimed batch, while any of its messages runs. */
interface Lease {
  id: string;
  ttl: number;
  grace: number;
  /** Its messages running, finishing or waiting to start (see prefetch). */
  running: number;
  /** Until when (clock ms) the store said last that the lease holds: a claim's or renewal's ttl. */
  heldUntil: number;
  lost: boolean;
  /** Some message was left claimed (finishing it failed): release the claim when done. */
  leftover: boolean;
  timer: Timer | null;
  /** The running handlers' abort switches, by message id. */
  controllers: Map<AbortSwitch, string>;
  /** Succeeded jobs waiting for the lease's next finishMany, while one is in flight. */
  toFinish: PendingFinish[];
  finishing: boolean;
}

interface PendingFinish {
  id: string;
  resolve: (outcome: FinishOutcome) => void;
  reject: (error: unknown) => void;
}

/** A clock whose timers keep the process alive: a worker waiting for messages is not finished. */
const workerClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Renew when this share of the lease has passed: half leaves a margin for a slow store. */
const RENEW_AT = 0.5;
/** Claims one worker has under way at most. */
const MAX_CLAIMS_IN_FLIGHT = 4;
/** Most messages a Zaqar claim takes unless its operator allows more. */
const DEFAULT_BATCH_CAP = 20;
/** Longest delay a Zaqar queue takes on a post, in seconds. */
const MAX_DELAY_S = 900;

/**
 * Runs a handler over the messages of a queue: claims in batches as capacity frees, renews the
 * lease while handlers run, and finishes each message with the store's fenced delete, so a
 * worker whose lease was lost is told (`lease-lost`) and never acknowledges work it no longer
 * owns.
 *
 * Failures: the attempt that failed re-posts the job (same body, its attempt count and last
 * error in an envelope, a delay of `backoff`), then finishes the original; after
 * `maxAttempts` the job goes to the queue's `_dead_letter_queue` (or, without one, is deleted
 * and reported `failed`). A message re-claimed after its lease expired counts the lost claims
 * as attempts (the store's claim count), so a job that kills its worker still reaches the
 * dead-letter queue.
 *
 * Crash windows, honestly: the worker is at-least-once between a handler's success and its
 * finish (a crash there re-runs the job on another worker after the lease expires). Between
 * the re-post of a retry (or dead letter) and the finish of the original, a crash leaves both:
 * the original runs again once its lease expires. The re-post carries an idempotency key
 * (message id, attempt) so a store that honours keys drops a repeated re-post; a store that does
 * not yet keeps both. Before re-posting the worker renews the lease, so a lease already lost does
 * not make a copy. What the fence guarantees is narrower and absolute: a worker never reports
 * `completed` for a message another consumer held or finished.
 */
export class Worker<Body = unknown> extends EventEmitter<WorkerEvents<Body>> {
  readonly queue: WorkQueue;
  private readonly handler: JobHandler<Body>;
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly ttl: number;
  private readonly grace: number;
  private batch: number;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly closeTimeout: number;
  private readonly idleMin: number;
  private readonly idleMax: number;

  private active = 0;
  /** Claims under way, and the slots they may fill. */
  private readonly claims = new Set<Promise<void>>();
  private reserved = 0;
  /** Claims whose answer has not come yet (the set also holds those still starting their jobs). */
  private unanswered = 0;
  /** Jobs whose handler succeeded and whose delete is not answered yet (they hold no slot). */
  private unacknowledged = 0;
  private readonly prefetch: number;
  /** Messages claimed ahead of free handlers, in claim order (see prefetch). */
  private readonly ahead: { lease: Lease; message: WorkMessage }[] = [];
  private idleTimer: Timer | null = null;
  /** A claim of a few free slots, put off to the next turn (see pump). */
  private pumpSoon: NodeJS.Immediate | null = null;
  private idleMs: number;
  private drainedSent = false;
  private started = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  private readonly leases = new Set<Lease>();
  private readonly idleWaiters = new Set<() => void>();
  private deadLetterName: Promise<string | null> | null = null;

  constructor(queue: WorkQueue, handler: JobHandler<Body>, options: WorkerOptions = {}) {
    super();
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    this.queue = queue;
    this.handler = handler;
    this.clock = options.clock ?? workerClock;
    this.concurrency = checkInteger(options.concurrency ?? 1, 'concurrency', 1, 100_000);
    this.ttl = checkInteger(options.ttl ?? 60, 'ttl', 1, 43_200);
    this.grace = checkInteger(options.grace ?? 60, 'grace', 0, 43_200);
    this.batch = checkInteger(options.batch ?? Math.min(this.concurrency, DEFAULT_BATCH_CAP), 'batch', 1, 100_000);
    this.prefetch = checkInteger(options.prefetch ?? 0, 'prefetch', 0, 100_000);
    this.maxAttempts = checkInteger(options.maxAttempts ?? 5, 'maxAttempts', 1, 1_000_000);
    this.backoff = checkBackoff(options.backoff ?? DEFAULT_BACKOFF);
    this.closeTimeout = checkInteger(options.closeTimeout ?? 30_000, 'closeTimeout', 0, 2 ** 31 - 1);
    this.idleMin = checkInteger(options.idle?.min ?? 50, 'idle.min', 1, 3_600_000);
    this.idleMax = checkInteger(options.idle?.max ?? 1000, 'idle.max', this.idleMin, 3_600_000);
    this.idleMs = this.idleMin;
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.closing = true;
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
    // Later, so that listeners attached right after construction hear the first events.
    if (options.autostart !== false) queueMicrotask(() => this.start());
  }

  /** Handlers running now. */
  get running(): number {
    return this.active;
  }

  /** Starts claiming (once); the constructor does it unless `autostart` is false. */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.pump();
  }

  /**
   * Stops claiming, waits up to `closeTimeout` for running handlers, then aborts those still
   * running and releases their leases so their messages are free at once (their finish will
   * then be refused: lease-lost). Claims that arrive while closing are released unstarted.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    this.idleTimer?.cancel();
    this.idleTimer = null;
    if (this.pumpSoon) clearImmediate(this.pumpSoon);
    this.pumpSoon = null;
    // Messages claimed ahead are not started: their leases are given back.
    for (const { lease } of this.ahead.splice(0)) this.dropAhead(lease);
    this.closed = (async () => {
      while (this.claims.size > 0) await Promise.all([...this.claims]);
      if (!this.idle) {
        let timer: Timer | null = null;
        const timedOut = await Promise.race([
          this.whenIdle().then(() => false),
          new Promise<boolean>((resolve) => {
            timer = this.clock.setTimer(this.closeTimeout, () => resolve(true));
          }),
        ]);
        (timer as Timer | null)?.cancel();
        if (timedOut) {
          const reason = new ClosedError('worker');
          for (const lease of [...this.leases]) {
            lease.lost = true;
            this.stopRenewing(lease);
            for (const controller of lease.controllers.keys()) controller.abort(reason);
            await this.quietly(this.queue.release(lease.id));
          }
        }
      }
    })();
    return this.closed;
  }

  // --- claiming -----------------------------------------------------------------------------

  /**
   * Claims while there are free slots no claim under way may fill. When slots outnumber the
   * batch, a few claims run at once, so a round trip does not leave handlers idle.
   *
   * While work is running or being claimed, fewer than half a batch of free slots are claimed
   * only at the next turn of the event loop (`small`): the jobs finished by one answer of the
   * store free their slots one by one within a turn, and claiming each as it freed made claims
   * of one or two messages — a claim, a renewal and a finish per job instead of per batch. A
   * slot freed beside long-running handlers is still filled, one turn later.
   */
  private pump(small = false): void {
    while (this.started && !this.closing && !this.idleTimer && this.claims.size < MAX_CLAIMS_IN_FLIGHT) {
      const held = this.concurrency + this.prefetch;
      const free =
        held - this.active - this.reserved - this.ahead.length - Math.max(0, this.unacknowledged - this.concurrency);
      if (free <= 0) return;
      const busy = this.active + this.reserved + this.ahead.length > 0;
      if (!small && busy && free < Math.ceil(Math.min(this.batch, held) / 2)) {
        this.pumpSoon ??= setImmediate(() => {
          this.pumpSoon = null;
          this.pump(true);
        });
        return;
      }
      const limit = Math.min(this.batch, free);
      this.reserved += limit;
      const claiming: Promise<void> = this.claimOnce(limit).finally(() => {
        this.reserved -= limit;
        this.claims.delete(claiming);
        this.pump();
      });
      this.claims.add(claiming);
    }
  }

  private async claimOnce(limit: number): Promise<void> {
    let claim: Awaited<ReturnType<WorkQueue['claim']>>;
    this.unanswered++;
    try {
      claim = await this.queue.claim({ ttl: this.ttl, grace: this.grace, limit });
      this.unanswered--;
    } catch (error) {
      this.unanswered--;
      // The store's own cap on a claim is lower than the batch: take its word and ask again.
      if (error instanceof LimitExceededError && error.field === 'limit' && error.limit >= 1 && error.limit < limit) {
        this.batch = error.limit;
        return;
      }
      this.report(error);
      this.waitIdle();
      return;
    }
    if (claim === null || claim.messages.length === 0) {
      if (this.idle && this.ahead.length === 0 && this.unanswered === 0 && !this.drainedSent && !this.closing) {
        this.drainedSent = true;
        this.emit('drained');
      }
      this.waitIdle();
      return;
    }
    if (this.closing) {
      await this.quietly(this.queue.release(claim.id));
      return;
    }
    // Messages came: the queue is not empty, so no claim waits idle.
    this.idleTimer?.cancel();
    this.idleTimer = null;
    this.idleMs = this.idleMin;
    this.drainedSent = false;
    const lease: Lease = {
      id: claim.id,
      ttl: claim.ttl,
      grace: claim.grace,
      running: claim.messages.length,
      heldUntil: this.clock.now() + claim.ttl * 1000,
      lost: false,
      leftover: false,
      timer: null,
      controllers: new Map(),
      toFinish: [],
      finishing: false,
    };
    this.leases.add(lease);
    this.scheduleRenewal(lease);
    // In claim order, after any claimed ahead before them: as many start as handlers are free.
    for (const message of claim.messages) this.ahead.push({ lease, message });
    this.startAhead();
  }

  /** Starts claimed messages while handlers are free; the rest wait (see prefetch). */
  private startAhead(): void {
    while (this.active < this.concurrency && this.ahead.length > 0) {
      const { lease, message } = this.ahead.shift() as { lease: Lease; message: WorkMessage };
      // One whose lease is lost, or may have run out while it waited (a renewal failed or is
      // late), is not started: another consumer may hold it now.
      if (this.closing || lease.lost || this.clock.now() >= lease.heldUntil) {
        this.dropAhead(lease);
        continue;
      }
      this.active++;
      void this.run(lease, message);
    }
  }

  /** A message claimed ahead and never started: its lease is released once the rest are done. */
  private dropAhead(lease: Lease): void {
    lease.leftover = true;
    lease.running--;
    if (lease.running === 0) void this.endLease(lease);
  }

  private waitIdle(): void {
    if (this.closing || this.idleTimer) return;
    const wait = this.idleMs;
    this.idleMs = Math.min(this.idleMax, this.idleMs * 2);
    this.idleTimer = this.clock.setTimer(wait, () => {
      this.idleTimer = null;
      this.pump();
    });
  }

  // --- leases -------------------------------------------------------------------------------

  private scheduleRenewal(lease: Lease): void {
    lease.timer = this.clock.setTimer(lease.ttl * 1000 * RENEW_AT, () => {
      lease.timer = null;
      void this.renew(lease);
    });
  }

  private async renew(lease: Lease): Promise<void> {
    if (lease.running === 0 || lease.lost) return;
    let held: boolean;
    try {
      held = await this.queue.renew(lease.id, { ttl: lease.ttl, grace: lease.grace });
    } catch (error) {
      // The store may be back before the lease runs out: try again at the next interval.
      this.report(error);
      if (lease.running > 0 && !lease.lost) this.scheduleRenewal(lease);
      return;
    }
    if (lease.running === 0 || lease.lost) return;
    if (held) {
      lease.heldUntil = this.clock.now() + lease.ttl * 1000;
      this.scheduleRenewal(lease);
      return;
    }
    lease.lost = true;
    for (const [controller, id] of lease.controllers) controller.abort(new LeaseLostError(id, lease.id));
  }

  private stopRenewing(lease: Lease): void {
    lease.timer?.cancel();
    lease.timer = null;
  }

  // --- one job --------------------------------------------------------------------------------

  private async run(lease: Lease, message: WorkMessage): Promise<void> {
    const opened = openBody(message.body);
    const job: Job<Body> = {
      id: message.id,
      body: opened.body as Body,
      attempt: (opened.history?.attempt ?? 1) + Math.max(0, message.claimCount - 1),
      claimId: lease.id,
      queue: this.queue.name,
    };
    // The switch is the job's context: its `signal` getter is all a handler is shown of it.
    const controller = new AbortSwitch();
    lease.controllers.set(controller, message.id);
    const context: JobContext = controller;
    let released = false;
    try {
      let result: unknown;
      let failure: { error: unknown } | null = null;
      try {
        result = await this.handler(job, context);
      } catch (error) {
        failure = { error };
      }
      if (failure === null) {
        const finishing = this.finishSucceeded(lease, job.id);
        // The handler is done, so its slot is: the next job need not wait for this one's delete
        // (a store round trip, an fsync on disk). The lease is held, and renewed, until the
        // delete is answered; at most `concurrency` deletes wait beyond the slots (see pump).
        lease.controllers.delete(controller);
        this.active--;
        this.unacknowledged++;
        released = true;
        this.startAhead();
        this.pump();
        if ((await finishing) === 'deleted') this.emit('completed', job, result);
        else this.emit('lease-lost', job);
      } else {
        await this.fail(lease, job, message, failure.error);
      }
    } catch (error) {
      lease.leftover = true;
      this.report(error);
    } finally {
      lease.controllers.delete(controller);
      if (released) this.unacknowledged--;
      else this.active--;
      lease.running--;
      if (lease.running === 0) await this.endLease(lease);
      this.startAhead();
      this.settleIdle();
      this.pump();
    }
  }

  private async fail(lease: Lease, job: Job<Body>, message: WorkMessage, error: unknown): Promise<void> {
    // A lease already lost must not leave a copy behind: the new owner decides what happens.
    if (lease.lost || !(await this.queue.renew(lease.id, { ttl: lease.ttl, grace: lease.grace }))) {
      lease.lost = true;
      this.emit('lease-lost', job);
      return;
    }
    const history = { attempt: job.attempt + 1, error: describeError(error) };
    const original = openBody(message.body).body;
    if (job.attempt >= this.maxAttempts) {
      const deadLetter = await this.deadLetterQueue();
      if (deadLetter === null) {
        if ((await this.queue.finish(job.id, lease.id)) === 'deleted') this.emit('failed', job, error);
        else this.emit('lease-lost', job);
        return;
      }
      await this.queue
        .sibling(deadLetter)
        .post(
          [{ body: wrapBody(original, { ...history, attempt: job.attempt, queue: this.queue.name, id: job.id }) }],
          {
            idempotencyKey: `${job.id}:dead`,
          },
        );
      if ((await this.queue.finish(job.id, lease.id)) === 'deleted') this.emit('dead-lettered', job, error, deadLetter);
      else this.emit('lease-lost', job);
      return;
    }
    const delayMs = backoffDelay(this.backoff, job.attempt, error);
    // Zaqar delays are whole seconds up to 15 minutes; round up so a retry never comes early.
    const delay = Math.min(MAX_DELAY_S, Math.ceil(delayMs / 1000));
    await this.queue.post([{ body: wrapBody(original, history), ...(delay > 0 ? { delay } : {}) }], {
      idempotencyKey: `${job.id}:${history.attempt}`,
    });
    if ((await this.queue.finish(job.id, lease.id)) === 'deleted') this.emit('retried', job, error, delay * 1000);
    else this.emit('lease-lost', job);
  }

  /**
   * Finishes a succeeded job together with the others of its lease: at most one finishMany per
   * lease in flight, each carrying every job that succeeded while the one before was answered
   * (the store's group commit, one level up). The outcome is still per message and fenced.
   */
  private finishSucceeded(lease: Lease, id: string): Promise<FinishOutcome> {
    if (!this.queue.finishMany) return this.queue.finish(id, lease.id);
    return new Promise<FinishOutcome>((resolve, reject) => {
      lease.toFinish.push({ id, resolve, reject });
      if (!lease.finishing) void this.flushFinishes(lease);
    });
  }

  private async flushFinishes(lease: Lease): Promise<void> {
    const finishMany = this.queue.finishMany?.bind(this.queue);
    if (!finishMany) return;
    lease.finishing = true;
    while (lease.toFinish.length > 0) {
      const batch = lease.toFinish.splice(0);
      try {
        const outcomes = await finishMany(
          batch.map((p) => p.id),
          lease.id,
        );
        for (const [i, p] of batch.entries()) p.resolve(outcomes[i] ?? 'lease-lost');
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    lease.finishing = false;
  }

  private async endLease(lease: Lease): Promise<void> {
    this.stopRenewing(lease);
    this.leases.delete(lease);
    // A message left claimed (finishing it failed) is given back now rather than at expiry.
    if (lease.leftover && !lease.lost) await this.quietly(this.queue.release(lease.id));
  }

  /** The queue's `_dead_letter_queue`, read once; null when it has none. */
  private deadLetterQueue(): Promise<string | null> {
    if (this.deadLetterName === null) {
      this.deadLetterName = this.queue.metadata().then(
        (metadata) => {
          const name = metadata._dead_letter_queue;
          return typeof name === 'string' && name !== '' ? name : null;
        },
        (error: unknown) => {
          this.deadLetterName = null;
          throw error;
        },
      );
    }
    return this.deadLetterName;
  }

  // --- small helpers -----------------------------------------------------------------------------

  /** No handler runs and no succeeded job waits for its delete. */
  private get idle(): boolean {
    return this.active === 0 && this.unacknowledged === 0;
  }

  private whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  private settleIdle(): void {
    if (!this.idle) return;
    for (const resolve of this.idleWaiters) resolve();
    this.idleWaiters.clear();
  }

  private async quietly(operation: Promise<unknown>): Promise<void> {
    try {
      await operation;
    } catch (error) {
      this.report(error);
    }
  }

  /** 'error' without a listener would throw from a timer and kill the process: warn instead. */
  private report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'PosthornWorkerWarning');
  }
}
