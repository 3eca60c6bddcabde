interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Lane<T, R> {
  project: string;
  queue: string;
  waiting: Pending<T, R>[];
  /** Statements sent and not yet answered. */
  inFlight: number;
  /** A batch is about to be formed on the next turn of the event loop. */
  scheduled: boolean;
}

/** Sends the calls of one batch, all to one queue; answers with one result per call, in order. */
export type BatchSender<T, R> = (project: string, queue: string, items: T[]) => Promise<R[]>;

/** A bound on one batch: the `weight` of its calls adds up to at most `max` (a call heavier than that goes alone). */
export interface BatchLimit<T> {
  weight(item: T): number;
  max: number;
}

/**
 * Claims and deletes made to one queue by many consumers of this process at once go to the
 * database together. Calls that arrive in one turn of the event loop, or while the queue's
 * statements are in flight, wait and go as the next statement: sixteen consumers that each
 * claim twenty messages cost one round trip, one transaction and one commit instead of
 * sixteen, and sixteen consumers polling an empty queue cost one cheap statement instead of
 * sixteen. A call to an idle queue waits only for the next turn of the event loop.
 *
 * Each call keeps its own meaning (its own claim, its own ids and claim ids); when the combined
 * statement fails, every call in it fails, and none took effect. Up to `maxInFlight`
 * statements of one queue run at once (the database keeps them apart: SKIP LOCKED for claims).
 * Posts go through lanes too, with their own sender (see post-lanes.ts).
 */
export class CallLanes<T, R> {
  private readonly lanes = new Map<string, Lane<T, R>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: BatchSender<T, R>,
    /** What a batch may carry (messages asked for or named, bytes), each bound checked alone. */
    private readonly limits: readonly BatchLimit<T>[],
    /** Statements of one queue in flight at once. */
    private readonly maxInFlight = 1,
  ) {}

  submit(project: string, queue: string, item: T): Promise<R> {
    // Projects cannot hold NUL (checked before), so the key cannot be forged.
    const key = `${project}\u0000${queue}`;
    return new Promise<R>((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { project, queue, waiting: [], inFlight: 0, scheduled: false };
        this.lanes.set(key, lane);
      }
      lane.waiting.push({ item, resolve, reject });
      this.schedule(key, lane);
    });
  }

  /** Resolves once no call is in flight or waiting. */
  whenIdle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * A batch is formed on the next turn of the event loop, not now: the consumers a combined
   * claim just answered all call again in this turn, and should share one statement.
   */
  private schedule(key: string, lane: Lane<T, R>): void {
    if (lane.scheduled || lane.waiting.length === 0 || lane.inFlight >= this.maxInFlight) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      this.sendBatch(key, lane);
    });
  }

  private sendBatch(key: string, lane: Lane<T, R>): void {
    const totals = this.limits.map(() => 0);
    let count = 0;
    for (const { item } of lane.waiting) {
      if (count > 0 && this.limits.some((limit, i) => (totals[i] as number) + limit.weight(item) > limit.max)) break;
      for (const [i, limit] of this.limits.entries()) totals[i] = (totals[i] as number) + limit.weight(item);
      count++;
    }
    const batch = lane.waiting.splice(0, count);
    lane.inFlight++;
    this.schedule(key, lane);
    this.send(
      lane.project,
      lane.queue,
      batch.map((p) => p.item),
    ).then(
      (results) => {
        for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
        this.finish(key, lane);
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
        this.finish(key, lane);
      },
    );
  }

  private finish(key: string, lane: Lane<T, R>): void {
    lane.inFlight--;
    this.schedule(key, lane);
    if (lane.inFlight > 0 || lane.scheduled || lane.waiting.length > 0) return;
    this.lanes.delete(key);
    if (this.lanes.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

/** The latest of the times calls made together were made at: the time the combined statement runs at. */
export function latestTime(calls: readonly { now: number }[]): number {
  let now = 0;
  for (const call of calls) if (call.now > now) now = call.now;
  return now;
}
