import { StorageUnavailableError } from '../../core/index.js';
import { DEFAULT_IDEMPOTENCY_WINDOW, type IdempotentPost, MAX_IDEMPOTENCY_WINDOW } from '../contract/index.js';
import { CallLanes, latestTime } from './call-lanes.js';
import { type EncodedMessage, PostLanes } from './post-lanes.js';
import { fromUuid } from './rows.js';
import type { StatementRunner } from './statement-runner.js';

export interface PostBatcherOptions {
  /** Most messages one group-committed post transaction carries. */
  maxMessages: number;
  /** Most body bytes one group-committed post transaction carries. */
  maxBytes: number;
  /** Post transactions of one queue sent without waiting for the one before (1 unless pipelined). */
  maxInFlight: number;
}

/** What a keyed post came to: posted, a repeat that stored nothing, or a key bound to other messages. */
export type KeyedPostOutcome = { status: 'posted' | 'repeat'; ids: string[] } | { status: 'reused' };

/** A post with an idempotency key waiting in its queue's keyed lane. */
interface KeyedPost {
  messages: EncodedMessage[];
  bytes: number;
  now: number;
  idempotency: IdempotentPost;
}

/** o_status of post_messages_keyed: posted (0), a repeat that stored nothing, a reused key. */
const KEYED_REPEAT = 1;
const KEYED_REUSED = 2;

/**
 * The posts of one queue made together go as one transaction: plain posts through the group
 * commit of PostLanes (one call of post_messages), keyed posts through a lane of their own (one
 * call of post_messages_keyed, which takes the queue's row like a post transaction does, so
 * positions still follow commit order) where each keeps its own answer.
 */
export class PostBatcher {
  private readonly lanes: PostLanes;
  private readonly keyedLanes: CallLanes<KeyedPost, KeyedPostOutcome>;

  constructor(
    private readonly db: StatementRunner,
    options: PostBatcherOptions,
  ) {
    this.lanes = new PostLanes(
      (project, queue, messages, now) =>
        this.db.runPost(`${project}\u0000${queue}`, postArguments(project, queue, messages, now)),
      options.maxMessages,
      options.maxBytes,
      options.maxInFlight,
    );
    this.keyedLanes = new CallLanes(
      (project, queue, calls) => this.sendKeyedPosts(project, queue, calls),
      [
        { weight: (call) => call.messages.length, max: options.maxMessages },
        { weight: (call) => call.bytes, max: options.maxBytes },
      ],
      1,
    );
  }

  post(project: string, queue: string, messages: EncodedMessage[], now: number): Promise<void> {
    return this.lanes.post(project, queue, messages, now);
  }

  postKeyed(
    project: string,
    queue: string,
    messages: EncodedMessage[],
    now: number,
    idempotency: IdempotentPost,
  ): Promise<KeyedPostOutcome> {
    let bytes = 0;
    for (const m of messages) bytes += m.body.length;
    return this.keyedLanes.submit(project, queue, { messages, bytes, now, idempotency });
  }

  /** Resolves once no post is in flight or waiting. */
  async whenIdle(): Promise<void> {
    await Promise.all([this.lanes.whenIdle(), this.keyedLanes.whenIdle()]);
  }

  private async sendKeyedPosts(project: string, queue: string, calls: KeyedPost[]): Promise<KeyedPostOutcome[]> {
    const messages = calls.length === 1 ? (calls[0] as KeyedPost).messages : calls.flatMap((c) => c.messages);
    const { rows } = await this.db.run<{ o_post: number; o_status: number; o_ids: string[] }>('postMessagesKeyed', [
      ...postArguments(project, queue, messages, latestTime(calls)),
      calls.map((c) => c.messages.length),
      calls.map((c) => c.idempotency.key),
      calls.map((c) => c.idempotency.fingerprint),
      DEFAULT_IDEMPOTENCY_WINDOW,
      MAX_IDEMPOTENCY_WINDOW,
    ]);
    return calls.map((_, k): KeyedPostOutcome => {
      const row = rows[k];
      if (!row || row.o_post !== k + 1)
        throw new StorageUnavailableError('PostgreSQL answered a keyed post batch short');
      if (row.o_status === KEYED_REUSED) return { status: 'reused' };
      return { status: row.o_status === KEYED_REPEAT ? 'repeat' : 'posted', ids: row.o_ids.map(fromUuid) };
    });
  }
}

/** The arguments of post_messages (and the first twelve of post_messages_keyed). */
function postArguments(project: string, queue: string, messages: EncodedMessage[], now: number): unknown[] {
  const n = messages.length;
  const ids = new Array<string>(n);
  const clients = new Array<string>(n);
  const created = new Array<number>(n);
  const expires = new Array<number>(n);
  const visible = new Array<number>(n);
  const ttls = new Array<number>(n);
  const checksums = new Array<string | null>(n);
  const lengths = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const m = messages[i] as EncodedMessage;
    ids[i] = m.id;
    clients[i] = m.clientId;
    created[i] = m.createdAt;
    expires[i] = m.expiresAt;
    visible[i] = m.visibleAt;
    ttls[i] = m.ttl;
    checksums[i] = m.checksum;
    lengths[i] = m.body.length;
  }
  const bodies = n === 1 ? (messages[0] as EncodedMessage).body : Buffer.concat(messages.map((m) => m.body));
  return [project, queue, now, ids, clients, created, expires, visible, ttls, checksums, lengths, bodies];
}
