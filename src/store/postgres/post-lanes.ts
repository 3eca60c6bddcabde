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
  draining: boolean;
}

/**
 * Group commit for posts. Posts to one queue commit one after another whatever we do — each
 * holds the queue's row until it commits, which is what keeps positions in commit order — so
 * rather than have each wait for the row and then pay its own fsync, the posts that arrive
 * while one is in flight go together as the next transaction, and one commit serves them all.
 *
 * Each post stays atomic (its messages share a transaction) and keeps arrival order. When a
 * combined transaction fails, every post in it fails and none is acknowledged. A post to an
 * idle queue is sent at once, so batching adds no latency.
 */
export class PostLanes {
  private readonly lanes = new Map<string, Lane>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: PostSender,
    private readonly maxMessages: number,
    private readonly maxBytes: number,
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
        lane = { project, queue, waiting: [], draining: false };
        this.lanes.set(key, lane);
      }
      lane.waiting.push(pending);
      // One transaction in flight per queue: the queue's row lock would serialize more anyway,
      // and this keeps posts in the order they were made.
      if (!lane.draining) void this.drain(key, lane);
    });
  }

  /** Resolves once no post is in flight or waiting. */
  whenIdle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    lane.draining = true;
    while (lane.waiting.length > 0) {
      const batch: PendingPost[] = [];
      let count = 0;
      let bytes = 0;
      for (const next of lane.waiting) {
        if (
          batch.length > 0 &&
          (count + next.messages.length > this.maxMessages || bytes + next.bytes > this.maxBytes)
        ) {
          break;
        }
        batch.push(next);
        count += next.messages.length;
        bytes += next.bytes;
      }
      lane.waiting.splice(0, batch.length);
      const messages = batch.length === 1 ? (batch[0] as PendingPost).messages : batch.flatMap((p) => p.messages);
      const now = (batch[batch.length - 1] as PendingPost).now;
      try {
        await this.send(lane.project, lane.queue, messages, now);
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.lanes.delete(key);
    if (this.lanes.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
