import { CallLanes } from './call-lanes.js';

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

/** One post waiting in its queue's lane. */
interface PendingPost {
  messages: EncodedMessage[];
  bytes: number;
  now: number;
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
  private readonly lanes: CallLanes<PendingPost, undefined>;

  constructor(send: PostSender, maxMessages: number, maxBytes: number, maxInFlight = 1) {
    this.lanes = new CallLanes<PendingPost, undefined>(
      async (project, queue, posts) => {
        const messages = posts.length === 1 ? (posts[0] as PendingPost).messages : posts.flatMap((p) => p.messages);
        // Called at once by the lanes, so transactions reach the sender in the order they were formed.
        await send(project, queue, messages, (posts[posts.length - 1] as PendingPost).now);
        return posts.map(() => undefined);
      },
      [
        { weight: (post) => post.messages.length, max: maxMessages },
        { weight: (post) => post.bytes, max: maxBytes },
      ],
      maxInFlight,
    );
  }

  post(project: string, queue: string, messages: EncodedMessage[], now: number): Promise<void> {
    let bytes = 0;
    for (const m of messages) bytes += m.body.length;
    return this.lanes.submit(project, queue, { messages, bytes, now });
  }

  /** Resolves once no post is in flight or waiting. */
  whenIdle(): Promise<void> {
    return this.lanes.whenIdle();
  }
}
