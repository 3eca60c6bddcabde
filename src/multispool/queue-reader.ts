import { ClosedError, CorruptDataError } from '../core/index.js';
import { listNames } from './disk.js';
import type { CheckedOutEntry, Entry } from './entry.js';
import type { EntryAction } from './entry-action.js';
import { type QueueWatch, watchQueue } from './queue-watch.js';

/**
 * What a reader asks of its Multispool (multispool.ts implements it), declared here so the spool
 * can make readers without the two files importing each other.
 */
export interface ReadableSpool<M, D, Q extends string> {
  entry(queue: Q, name: string): Entry<M, D, Q>;
  checkoutOrNotFound(entry: Entry<M, D, Q>): Promise<CheckedOutEntry<M, D, Q> | 'not-found'>;
  runCheckedOut<R>(taken: CheckedOutEntry<M, D, Q>, f: EntryAction<M, D, Q, R>): Promise<R>;
  layoutQueueDir(queue: Q): string;
}

export interface QueueReaderOptions {
  /**
   * How often a waiting reader re-lists the folder even without a change notice (ms of wall-clock
   * time), so entries whose notices were lost are found. Default 1000.
   */
  pollIntervalMs?: number;
  /** Use fs.watch notices (default true); false leaves re-listing alone. */
  watch?: boolean;
}

/**
 * Takes entries from one queue in name order and waits for new ones (async_smtp's
 * `Queue_reader`). Several readers, in one process or many, can read the same queue: each entry
 * is checked out by rename, so exactly one of them gets it.
 *
 * Never missing an entry rests on one order, as in async_smtp: note the change counter, then
 * list the folder, and sleep only if the counter has not moved since. A file that lands after
 * the listing bumps the counter (the watch), or is found by the next timed re-list when the
 * notice was lost; one that landed before is in the listing.
 */
export class QueueReader<M, D, Q extends string> {
  private buffer: string[] = [];
  private changes = 0;
  private seenChanges = -1;
  private watch: QueueWatch | undefined;
  private readonly wakers = new Set<() => void>();
  private closed = false;
  private readonly pollIntervalMs: number;
  private readonly useWatch: boolean;

  constructor(
    private readonly spool: ReadableSpool<M, D, Q>,
    readonly queue: Q,
    options: QueueReaderOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.useWatch = options.watch ?? true;
  }

  /** Checks out the next available entry, or resolves undefined when the queue is empty. */
  async dequeueAvailable(): Promise<CheckedOutEntry<M, D, Q> | undefined> {
    this.checkOpen();
    this.startWatching();
    for (let listed = false; ; listed = true) {
      while (this.buffer.length > 0) {
        const name = this.buffer.shift() as string;
        try {
          const taken = await this.spool.checkoutOrNotFound(this.spool.entry(this.queue, name));
          if (taken !== 'not-found') return taken;
        } catch (error) {
          // Moved aside (or left for a newer release) and logged by the Multispool: skip it.
          if (!(error instanceof CorruptDataError)) throw error;
        }
      }
      if (listed) return undefined;
      this.seenChanges = this.changes;
      this.buffer = (await listNames(this.spool.layoutQueueDir(this.queue))).filter((n) => !n.startsWith('.')).sort();
    }
  }

  /** Checks out the next entry, waiting for one when the queue is empty. */
  async dequeue(options: { signal?: AbortSignal } = {}): Promise<CheckedOutEntry<M, D, Q>> {
    for (;;) {
      options.signal?.throwIfAborted();
      const taken = await this.dequeueAvailable();
      if (taken) return taken;
      await this.waitForChange(options.signal);
    }
  }

  /**
   * Runs `f` on every entry as it arrives, like Multispool.withEntry, until `signal` aborts
   * (then it rejects with the signal's reason) or `f` throws (the entry goes back unchanged).
   */
  async iter<R>(f: EntryAction<M, D, Q, R>, options: { signal?: AbortSignal } = {}): Promise<never> {
    for (;;) await this.spool.runCheckedOut(await this.dequeue(options), f);
  }

  /** Runs `f` on every entry available now; resolves with how many were handled. */
  async iterAvailable<R>(f: EntryAction<M, D, Q, R>): Promise<number> {
    let handled = 0;
    for (let taken = await this.dequeueAvailable(); taken; taken = await this.dequeueAvailable()) {
      await this.spool.runCheckedOut(taken, f);
      handled++;
    }
    return handled;
  }

  /** Stops watching; waiting calls reject with ClosedError. */
  close(): void {
    this.closed = true;
    this.watch?.close();
    this.watch = undefined;
    for (const wake of this.wakers) wake();
  }

  private startWatching(): void {
    if (this.watch || !this.useWatch) return;
    this.watch = watchQueue(this.spool.layoutQueueDir(this.queue), () => {
      this.changes++;
      for (const wake of this.wakers) wake();
    });
  }

  private waitForChange(signal: AbortSignal | undefined): Promise<void> {
    if (this.changes !== this.seenChanges) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      // A referenced timer: a process whose only work is waiting on this reader stays alive.
      const timer = setTimeout(() => finish(), this.pollIntervalMs);
      const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) reject(error);
        else if (this.closed) reject(new ClosedError(`queue reader on ${this.queue}`));
        else resolve();
      };
      const wake = () => finish();
      this.wakers.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(`queue reader on ${this.queue}`);
  }
}
