/** A message ready for the database: id made, body encoded, times computed from the Clock. */
export interface EncodedMessage {
  id: string;
  body: Buffer;
  ttl: number;
  createdAt: number;
  expiresAt: number;
  visibleAt: number;
  clientId: string;
  checksum: string | null;
}

export type PostSender = (project: string, queue: string, messages: EncodedMessage[], now: number) => Promise<void>;

interface PendingPost {
  messages: EncodedMessage[];
  bytes: number;
  now: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Lane {
  project: string;
  queue: string;
  waiting: PendingPost[];
  /** Transactions sent and not yet answered. */
  inFlight: number;
  /** A batch is about to be formed on the next turn of the event loop. */
  scheduled: boolean;
}

/**
 * Group commit for posts. Posts to one queue commit one after another whatever we do — each
 * holds the queue's row until it commits, which is what keeps positions in commit order — so
 * rather than have each wait for the row and then pay its own fsync, the posts that arrive
 * together go as one transaction, and one commit serves them all.
 *
 * Up to `maxInFlight` transactions of one queue are sent without waiting for the one before
 * to be answered: the sender must deliver them to the server in the order it is called (one
 * pipelined connection per queue does), so they still take their positions, and commit, in
 * the order the posts were made, but the next one starts on the server as soon as the previous
 * one commits, not a round trip later.
 *
 * Each post stays atomic (its messages share a transaction) and keeps arrival order. When a
 * combined transaction fails, every post in it fails and none is acknowledged. A batch is
 * formed on the next turn of the event loop, so posts made in one turn (producers a commit has
 * just answered) share it, at next to no cost in latency.
 */
export class PostLanes {
  private readonly lanes = new Map<string, Lane>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: PostSender,
    private readonly maxMessages: number,
    private readonly maxBytes: number,
    private readonly maxInFlight = 1,
  ) {}

  post(project: string, queue: string, messages: EncodedMessage[], now: number): Promise<void> {
    // Projects cannot hold NUL (checked before), so the key cannot be forged.
    const key = `${project}\u0000${queue}`;
    return new Promise<void>((resolve, reject) => {
      let bytes = 0;
      for (const m of messages) bytes += m.body.length;
      const pending: PendingPost = { messages, bytes, now, resolve, reject };
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { project, queue, waiting: [], inFlight: 0, scheduled: false };
        this.lanes.set(key, lane);
      }
      lane.waiting.push(pending);
      this.schedule(key, lane);
    });
  }

  /** Resolves once no post is in flight or waiting. */
  whenIdle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(key: string, lane: Lane): void {
    if (lane.scheduled || lane.waiting.length === 0 || lane.inFlight >= this.maxInFlight) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      this.sendBatch(key, lane);
    });
  }

  private sendBatch(key: string, lane: Lane): void {
    const batch: PendingPost[] = [];
    let count = 0;
    let bytes = 0;
    for (const next of lane.waiting) {
      if (batch.length > 0 && (count + next.messages.length > this.maxMessages || bytes + next.bytes > this.maxBytes)) {
        break;
      }
      batch.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    lane.waiting.splice(0, batch.length);
    const messages = batch.length === 1 ? (batch[0] as PendingPost).messages : batch.flatMap((p) => p.messages);
    const now = (batch[batch.length - 1] as PendingPost).now;
    lane.inFlight++;
    // More may go at once, up to maxInFlight; each is sent (in order) before this one is answered.
    this.schedule(key, lane);
    this.send(lane.project, lane.queue, messages, now).then(
      () => {
        for (const p of batch) p.resolve();
        this.finish(key, lane);
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
        this.finish(key, lane);
      },
    );
  }

  private finish(key: string, lane: Lane): void {
    lane.inFlight--;
    this.schedule(key, lane);
    if (lane.inFlight > 0 || lane.scheduled || lane.waiting.length > 0) return;
    this.lanes.delete(key);
    if (this.lanes.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
