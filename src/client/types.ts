/**
 * The documents of Zaqar's v2 API as the client hands them out. The wire is snake_case JSON; these
 * types are camelCase, with the names of core's `Message`/`Claim` where the meaning is the same
 * (`claimId`, `claimCount`, `ttl`, `age`), and the client translates in one place (queue-handle
 * and client). Times the server writes as ISO text (`created`, `expires`) stay text.
 */

/** A message as the server lists, gets or claims it. */
export interface QueueMessage {
  id: string;
  /** The server's path of the message (with `?claim_id=` while claimed). */
  href: string;
  body: unknown;
  /** Seconds it lives (a claim may have lengthened it). */
  ttl: number;
  /** Whole seconds since it was posted. */
  age: number;
  /** The claim holding it, as its href says; null when free. */
  claimId: string | null;
  /** How many claims have taken it; 0 when the server does not say (Zaqar's claim answers do not). */
  claimCount: number;
  checksum?: string;
}

/** A message taken by a pop: it is gone, so it has no href. */
export interface PoppedMessage {
  id: string;
  body: unknown;
  ttl: number;
  age: number;
  claimCount: number;
  checksum?: string;
}

/** A message to post. */
export interface PostMessage {
  body: unknown;
  /** Seconds it lives; the queue's or server's default when omitted. */
  ttl?: number;
  /** Seconds before it can be claimed or listed. */
  delay?: number;
}

export interface PostOptions {
  /** Sent as `Idempotency-Key`: a repeat within the queue's window stores nothing and answers the first ids; it also lets the client retry the post safely. */
  idempotencyKey?: string;
}

export interface ListMessagesOptions {
  /** Most messages on one page (the server's default when omitted; Zaqar's maximum is 20). */
  limit?: number;
  /** The marker of the page before (`page.marker`). */
  marker?: string;
  /** Include messages this client posted (Zaqar's default is false). */
  echo?: boolean;
  includeClaimed?: boolean;
  includeDelayed?: boolean;
}

/** One page of a listing; `marker` continues it, null when the server says there is no next page. */
export interface MessagePage {
  messages: QueueMessage[];
  marker: string | null;
}

export interface ClaimOptions {
  /** Seconds the lease lasts. */
  ttl: number;
  /** Seconds a claimed message outlives its lease at least. */
  grace: number;
  /** Most messages to take (the server's default when omitted). */
  limit?: number;
}

/** A lease on a batch of messages. */
export interface QueueClaim {
  id: string;
  ttl: number;
  grace: number;
  messages: QueueMessage[];
}

/** A claim as `GET .../claims/{id}` shows it (no grace: Zaqar does not return it). */
export interface ClaimInfo {
  id: string;
  ttl: number;
  /** Whole seconds since it was made or last renewed. */
  age: number;
  href: string;
  messages: QueueMessage[];
}

/** The oldest or newest message of a queue's stats. */
export interface StatsStamp {
  /** Whole seconds since it was posted. */
  age: number;
  /** When it was posted: ISO 8601, whole seconds, UTC. */
  created: string;
  href: string;
}

export interface QueueStatsInfo {
  claimed: number;
  free: number;
  total: number;
  oldest?: StatsStamp;
  newest?: StatsStamp;
}

export interface QueueSummary {
  name: string;
  href: string;
  /** Present when the listing asked for details. */
  metadata?: Record<string, unknown>;
}

export interface ListQueuesOptions {
  limit?: number;
  marker?: string;
  /** Include each queue's metadata. */
  detailed?: boolean;
  /** Only queues whose name contains this. */
  name?: string;
  /** Ask for the total count of the project's queues. */
  withCount?: boolean;
}

export interface QueuePageInfo {
  queues: QueueSummary[];
  marker: string | null;
  /** Present when `withCount` was asked. */
  count?: number;
}

/** One operation of a JSON Patch (RFC 6902) on queue metadata. */
export interface MetadataPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'copy' | 'move' | 'test';
  /** `/metadata/<key>` in Zaqar's patches. */
  path: string;
  value?: unknown;
  from?: string;
}

/** What `purge` removes: messages, subscriptions, or both (the default). */
export type PurgeResource = 'messages' | 'subscriptions';

export interface ShareOptions {
  /** Resources under the queue to sign (the server's default: messages). */
  paths?: ('messages' | 'subscriptions' | 'claims')[];
  /** Methods to allow (the server's default: GET). */
  methods?: string[];
  /** ISO 8601 moment it stops working (the server's default: a day from now). */
  expires?: string;
}

/** A pre-signed URL: what `queue.share()` answers, and what `createClient({ auth: { signedUrl } })` presents. */
export interface SignedUrl {
  project: string;
  paths: string[];
  methods: string[];
  expires: string;
  signature: string;
}

export interface SubscriptionInfo {
  id: string;
  subscriber: string;
  /** The queue it subscribes to. */
  source: string;
  ttl: number;
  age: number;
  options: Record<string, unknown>;
  confirmed: boolean;
  /** Posthorn's addition on a get: notifications delivered, waiting and lost. */
  deliveryStatus?: { delivered: number; pending: number; failed: number };
}

export interface SubscribeOptions {
  subscriber: string;
  /** Seconds the subscription lives. */
  ttl?: number;
  options?: Record<string, unknown>;
}

export interface SubscriptionUpdate {
  subscriber?: string;
  ttl?: number;
  options?: Record<string, unknown>;
}

export interface SubscriptionPage {
  subscriptions: SubscriptionInfo[];
  marker: string | null;
}

/** A notification pushed on a WebSocket subscription. */
export interface PushedMessage {
  body: unknown;
  ttl: number;
  /** The queue it was posted to. */
  queueName: string;
}
