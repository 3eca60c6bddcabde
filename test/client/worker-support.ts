import type { WorkQueue } from '../../src/client/index.js';
import type { FakeClock } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';

/** A driver the Worker tests run over, opened on a FakeClock that both the store and the Worker use. */
export interface WorkerTarget {
  name: string;
  open(clock: FakeClock): Promise<DataDriver>;
  cleanup?(): Promise<void>;
}

/** Yields to the event loop a few times, so promise chains and immediates run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A WorkQueue that counts the store calls in flight, so a test moves the fake clock only while
 * no call is under way: time then never passes "during" a round trip, and a test runs the same
 * over memory as over a real Redis or PostgreSQL, with no guess at how long a call takes.
 */
export class TrackedQueue implements WorkQueue {
  pending = 0;
  readonly claimLimits: number[] = [];
  /** The number of messages in each finishMany call, in the order made. */
  readonly finishManyCalls: number[] = [];
  renewals = 0;
  /** While true, renew answers true without reaching the store (a renewal that is stuck). */
  blockRenew = false;
  private waiters: (() => void)[] = [];

  constructor(
    readonly inner: WorkQueue,
    private readonly shared: { pending: number; waiters: (() => void)[] } = { pending: 0, waiters: [] },
  ) {}

  get name(): string {
    return this.inner.name;
  }

  private async track<T>(call: Promise<T>): Promise<T> {
    this.shared.pending++;
    this.pending++;
    try {
      return await call;
    } finally {
      this.pending--;
      this.shared.pending--;
      if (this.shared.pending === 0) {
        const waiters = this.shared.waiters.splice(0);
        for (const w of waiters) w();
      }
      if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves once no store call of any queue sharing this tracker is in flight (and stays so for a moment). */
  async whenQuiet(): Promise<void> {
    for (;;) {
      await settle();
      if (this.shared.pending === 0) return;
      await new Promise<void>((resolve) => this.shared.waiters.push(resolve));
    }
  }

  claim(options: Parameters<WorkQueue['claim']>[0]) {
    this.claimLimits.push(options.limit);
    return this.track(this.inner.claim(options));
  }
  renew(claimId: string, options: { ttl: number; grace: number }) {
    this.renewals++;
    if (this.blockRenew) return Promise.resolve(true);
    return this.track(this.inner.renew(claimId, options));
  }
  release(claimId: string) {
    return this.track(this.inner.release(claimId));
  }
  finish(messageId: string, claimId: string) {
    return this.track(this.inner.finish(messageId, claimId));
  }
  finishMany(messageIds: string[], claimId: string) {
    this.finishManyCalls.push(messageIds.length);
    const inner = this.inner;
    return this.track(
      inner.finishMany
        ? inner.finishMany(messageIds, claimId)
        : Promise.all(messageIds.map((id) => inner.finish(id, claimId))),
    );
  }
  post(messages: Parameters<WorkQueue['post']>[0], options?: Parameters<WorkQueue['post']>[1]) {
    return this.track(this.inner.post(messages, options));
  }
  metadata() {
    return this.track(this.inner.metadata());
  }
  sibling(name: string): WorkQueue {
    return new TrackedQueue(this.inner.sibling(name), this.shared);
  }

  /** Another tracked view of the same queue sharing this one's in-flight count. */
  twin(inner: WorkQueue): TrackedQueue {
    return new TrackedQueue(inner, this.shared);
  }
}

/** Moves the clock by `ms` while the store is quiet, then waits for the calls it set off. */
export async function step(clock: FakeClock, queue: TrackedQueue, ms: number): Promise<void> {
  await queue.whenQuiet();
  await clock.advanceAsync(ms);
  await queue.whenQuiet();
}

/**
 * Steps the clock `stepMs` at a time until `done()` holds; fails after `maxSteps` so that a
 * broken worker fails the test instead of hanging it.
 */
export async function stepUntil(
  clock: FakeClock,
  queue: TrackedQueue,
  done: () => boolean,
  stepMs = 100,
  maxSteps = 10_000,
): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    await queue.whenQuiet();
    if (done()) return;
    await step(clock, queue, stepMs);
  }
  throw new Error(`not done after ${maxSteps} steps of ${stepMs} ms`);
}

/** A promise with its resolve, for handlers that wait on the test. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
