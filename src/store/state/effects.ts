import type { QueueMetadata } from '../../core/index.js';

/**
 * Every change to a columnar store, as data. An operation first plans its effect by reading the
 * state (which may throw a typed error and change nothing), then applies it. The disk store
 * writes each effect to its log before acknowledging and applies the same effects on replay,
 * so one code path makes the state both at run time and at recovery. Applying an effect that
 * names something that no longer exists does nothing to it. The names here are the state's
 * own; the disk log stores them under its shorter names (store/disk/effect-fields.ts).
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
  type: 'queueCreate';
  project: string;
  queue: string;
  metadata: QueueMetadata;
}

export interface QueueMetadataSet {
  type: 'queueMetadataSet';
  project: string;
  queue: string;
  metadata: QueueMetadata;
}

export interface QueueDelete {
  type: 'queueDelete';
  project: string;
  queue: string;
}

export interface PostedMessage {
  ttl: number;
  delay: number;
  checksum: string | null;
  /** Bytes of the body (MessagePack). */
  length: number;
  /** Where the engine keeps the body. */
  ref: number;
}

export interface Post {
  type: 'post';
  project: string;
  queue: string;
  client: string;
  now: number;
  /** Sequence number of the first message; the others follow one by one. */
  seq: number;
  messages: PostedMessage[];
  /** The idempotency key the post is remembered by, in the same record as its messages. */
  idempotency?: PostKey;
}

export interface PostKey {
  key: string;
  /** Fingerprint of the post (hex SHA-256). */
  fingerprint: string;
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
  type: 'claimCreate';
  project: string;
  queue: string;
  id: string;
  ttl: number;
  grace: number;
  now: number;
  /** Order keys of the messages taken, oldest first. */
  orders: number[];
  moves: Move[];
}

export interface ClaimUpdate {
  type: 'claimUpdate';
  project: string;
  queue: string;
  id: string;
  ttl: number;
  grace: number;
  now: number;
}

export interface ClaimDelete {
  type: 'claimDelete';
  project: string;
  queue: string;
  id: string;
}

export interface MessagesDelete {
  type: 'messagesDelete';
  project: string;
  queue: string;
  orders: number[];
}

export interface Pop {
  type: 'pop';
  project: string;
  queue: string;
  now: number;
  orders: number[];
  moves: Move[];
}

export interface SubscriptionCreate {
  type: 'subscriptionCreate';
  project: string;
  queue: string;
  id: string;
  subscriber: string;
  ttl: number;
  options: Record<string, unknown>;
  now: number;
}

export interface SubscriptionUpdate {
  type: 'subscriptionUpdate';
  project: string;
  queue: string;
  id: string;
  subscriber?: string;
  ttl?: number;
  options?: Record<string, unknown>;
  now: number;
}

export interface SubscriptionDelete {
  type: 'subscriptionDelete';
  project: string;
  queue: string;
  id: string;
}

export interface SubscriptionConfirm {
  type: 'subscriptionConfirm';
  project: string;
  queue: string;
  id: string;
  confirmed: boolean;
}

/** Bodies copied elsewhere (compaction). */
export interface Relocate {
  type: 'relocate';
  entries: Relocation[];
}

/** One message's body, now at `ref`. */
export interface Relocation {
  project: string;
  queue: string;
  order: number;
  ref: number;
}

/** The sequence numbers an effect takes: [first, count], or null. */
export function seqRange(effect: Effect): [number, number] | null {
  if (effect.type === 'post') return [effect.seq, effect.messages.length];
  if ((effect.type === 'claimCreate' || effect.type === 'pop') && effect.moves.length > 0) {
    return [effect.moves[0]?.seq as number, effect.moves.length];
  }
  return null;
}
