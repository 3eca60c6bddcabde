import type { QueueMetadata } from '../../core/index.js';

/**
 * Every change to a columnar store, as data. An operation first plans its effect by reading the
 * state (which may throw a typed error and change nothing), then applies it. The disk store
 * writes each effect to its log before acknowledging and applies the same effects on replay,
 * so one code path makes the state both at run time and at recovery. Applying an effect that
 * names something that no longer exists does nothing to it.
 */
export type Effect =
  | QueueCreate
  | QueueMetadataSet
  | QueueDelete
  | Post
  | ClaimCreate
  | ClaimUpdate
  | ClaimDelete
  | MessagesDelete
  | Pop
  | SubscriptionCreate
  | SubscriptionUpdate
  | SubscriptionDelete
  | SubscriptionConfirm
  | Relocate;

export interface QueueCreate {
  t: 'qcreate';
  p: string;
  q: string;
  meta: QueueMetadata;
}

export interface QueueMetadataSet {
  t: 'qmeta';
  p: string;
  q: string;
  meta: QueueMetadata;
}

export interface QueueDelete {
  t: 'qdelete';
  p: string;
  q: string;
}

export interface PostedMessage {
  ttl: number;
  delay: number;
  checksum: string | null;
  /** Body bytes (MessagePack) length. */
  len: number;
  /** Where the engine keeps the body. */
  ref: number;
}

export interface Post {
  t: 'post';
  p: string;
  q: string;
  client: string;
  now: number;
  /** Sequence number of the first message; the others follow one by one. */
  seq: number;
  msgs: PostedMessage[];
  /** The idempotency key the post is remembered by, in the same record as its messages. */
  key?: PostKey;
}

export interface PostKey {
  k: string;
  /** Fingerprint of the post (hex SHA-256). */
  f: string;
  /** When the queue forgets the key (ms). */
  until: number;
}

/** A dead-letter move: the message leaves its queue for the end of `to` (same project). */
export interface Move {
  order: number;
  to: string;
  /** Its order key in the dead-letter queue: a new sequence number. */
  seq: number;
  /** New lifetime in seconds, or null to keep it. */
  ttl: number | null;
}

export interface ClaimCreate {
  t: 'claim';
  p: string;
  q: string;
  id: string;
  ttl: number;
  grace: number;
  now: number;
  /** Order keys of the messages taken, oldest first. */
  orders: number[];
  moves: Move[];
}

export interface ClaimUpdate {
  t: 'cupdate';
  p: string;
  q: string;
  id: string;
  ttl: number;
  grace: number;
  now: number;
}

export interface ClaimDelete {
  t: 'cdelete';
  p: string;
  q: string;
  id: string;
}

export interface MessagesDelete {
  t: 'delete';
  p: string;
  q: string;
  orders: number[];
}

export interface Pop {
  t: 'pop';
  p: string;
  q: string;
  now: number;
  orders: number[];
  moves: Move[];
}

export interface SubscriptionCreate {
  t: 'screate';
  p: string;
  q: string;
  id: string;
  subscriber: string;
  ttl: number;
  options: Record<string, unknown>;
  now: number;
}

export interface SubscriptionUpdate {
  t: 'supdate';
  p: string;
  q: string;
  id: string;
  subscriber?: string;
  ttl?: number;
  options?: Record<string, unknown>;
  now: number;
}

export interface SubscriptionDelete {
  t: 'sdelete';
  p: string;
  q: string;
  id: string;
}

export interface SubscriptionConfirm {
  t: 'sconfirm';
  p: string;
  q: string;
  id: string;
  confirmed: boolean;
}

/** Bodies copied elsewhere (compaction): [project, queue, order, new ref] each. */
export interface Relocate {
  t: 'relocate';
  entries: [string, string, number, number][];
}

/** The sequence numbers an effect takes: [first, count], or null. */
export function seqRange(effect: Effect): [number, number] | null {
  if (effect.t === 'post') return [effect.seq, effect.msgs.length];
  if ((effect.t === 'claim' || effect.t === 'pop') && effect.moves.length > 0) {
    return [effect.moves[0]?.seq as number, effect.moves.length];
  }
  return null;
}
