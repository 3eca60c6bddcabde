/**
 * The things Posthorn keeps: queues, messages, claims and subscriptions, every one scoped by a
 * project (a tenant). Times on these objects are milliseconds since the epoch; durations that
 * users give (ttl, grace, delay) are whole seconds, as in Zaqar.
 */

/** What a store promises (Zaqar's storage Capabilities). */
export type Capability = 'FIFO' | 'CLAIMS' | 'DURABILITY' | 'AOD' | 'HIGH_THROUGHPUT';

export const ALL_CAPABILITIES: readonly Capability[] = Object.freeze([
  'FIFO',
  'CLAIMS',
  'DURABILITY',
  'AOD',
  'HIGH_THROUGHPUT',
]);

/**
 * A project id. Stores accept any string up to the limit; the empty string is the "global"
 * project that the embedded library uses when no tenant is named (Zaqar's `project=None`).
 */
export type ProjectId = string;

/** The global project of the embedded library. */
export const GLOBAL_PROJECT: ProjectId = '';

/** Queue metadata: a JSON object. Keys starting with `_` are reserved (see ReservedQueueMetadata). */
export type QueueMetadata = Record<string, unknown>;

/** The reserved queue metadata keys that a store itself acts on. */
export const RESERVED_METADATA = {
  maxClaimCount: '_max_claim_count',
  deadLetterQueue: '_dead_letter_queue',
  deadLetterQueueMessagesTtl: '_dead_letter_queue_messages_ttl',
  maxMessagesPostSize: '_max_messages_post_size',
  defaultMessageTtl: '_default_message_ttl',
  defaultMessageDelay: '_default_message_delay',
  flavor: '_flavor',
  retryPolicy: '_retry_policy',
  enableEncryptMessages: '_enable_encrypt_messages',
  idempotencyWindow: '_idempotency_window',
} as const;

/**
 * A message body: any value MessagePack carries — JSON values (null, booleans, finite numbers,
 * strings, arrays, plain objects) and byte arrays (Uint8Array, so Buffers too).
 */
export type MessageBody = unknown;

/** A message as a producer hands it in. */
export interface NewMessage {
  body: MessageBody;
  /** Seconds the message lives; the store's default when omitted. */
  ttl?: number;
  /** Seconds before the message becomes visible to claims and listings; 0 when omitted. */
  delay?: number;
  /** An integrity tag kept with the message, e.g. "MD5:<hex>" (Zaqar's optional checksum). */
  checksum?: string;
}

/** A stored message as a store returns it. */
export interface Message {
  id: string;
  body: MessageBody;
  /** Lifetime in seconds; a claim may have lengthened it (ttl + grace). */
  ttl: number;
  /** Whole seconds since it was posted. */
  age: number;
  createdAt: number;
  expiresAt: number;
  /** When it becomes visible; equal to createdAt for messages without delay. */
  visibleAt: number;
  /** The claim holding it now, or null when it is free (an expired claim holds nothing). */
  claimId: string | null;
  claimExpiresAt: number | null;
  /** How many claims have taken it. */
  claimCount: number;
  /** The client that posted it (echo filtering). */
  clientId: string;
  checksum?: string;
}

/** A claim: a lease on up to `limit` messages for `ttl` seconds. */
export interface Claim {
  id: string;
  ttl: number;
  grace: number;
  /** Whole seconds since it was made or last renewed. */
  age: number;
  /** When it was made or last renewed. */
  updatedAt: number;
  expiresAt: number;
  /** The messages it still holds (deleted or expired ones drop out). */
  messages: Message[];
}

export interface QueueInfo {
  name: string;
  /** Present when the listing asked for details. */
  metadata?: QueueMetadata;
}

/** Oldest or newest message in a queue's stats. */
export interface MessageStamp {
  id: string;
  age: number;
  createdAt: number;
}

export interface QueueStats {
  /** Messages held by a live claim. */
  claimed: number;
  /** total - claimed (as Zaqar counts it: delayed messages are free). */
  free: number;
  /** Messages not yet visible because of a delay (a part of free). */
  delayed: number;
  /** Every live message. */
  total: number;
  oldest?: MessageStamp;
  newest?: MessageStamp;
}

/** A subscription: a subscriber (URI) that wants the messages posted to a queue. */
export interface Subscription {
  id: string;
  /** The queue it subscribes to. */
  source: string;
  subscriber: string;
  ttl: number;
  age: number;
  createdAt: number;
  expiresAt: number;
  options: Record<string, unknown>;
  confirmed: boolean;
}

/** What a garbage collection removed. */
export interface GcReport {
  messages: number;
  claims: number;
  subscriptions: number;
}
