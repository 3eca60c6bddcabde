import type {
  Capability,
  Claim,
  GcReport,
  Limits,
  Message,
  NewMessage,
  ProjectId,
  QueueInfo,
  QueueMetadata,
  QueueStats,
  Subscription,
} from '../../core/index.js';

/**
 * The storage contract: Zaqar's data driver (zaqar/storage/base.py) in TypeScript. Every
 * driver — memory, disk, redis, postgres — implements it and is defined by passing the one
 * conformance suite in test/store/conformance.
 *
 * Every operation names its project and queue first. Operations that read or change one
 * object of a queue that does not exist throw QueueNotFoundError (or the object's own
 * not-found error); deletes are idempotent; `messages.post` creates the queue when missing,
 * as Zaqar's lazy queues do.
 */
export interface DataDriver {
  /** The driver's kind: 'memory', 'disk', 'redis', 'postgres'... */
  readonly kind: string;
  readonly capabilities: ReadonlySet<Capability>;
  /** The limits this driver checks arguments against. */
  readonly limits: Limits;
  readonly queues: QueueController;
  readonly messages: MessageController;
  readonly claims: ClaimController;
  readonly subscriptions: SubscriptionController;
  /** True when the store answers. Never throws. */
  isAlive(): Promise<boolean>;
  /**
   * True while the store's last write failed because its disk (or memory) is full, until a
   * write succeeds; reads, claims and deletes go on. Drivers that cannot tell leave it out.
   */
  isFull?(): boolean;
  /** Removes expired messages, claims and subscriptions and reclaims their space. */
  gc(): Promise<GcReport>;
  /** Finishes pending writes and releases the store. Later calls throw ClosedError. */
  close(): Promise<void>;
}

export interface ListQueuesOptions {
  /** Opaque position returned by a previous page. */
  marker?: string;
  limit?: number;
  /** Include each queue's metadata. */
  detailed?: boolean;
  /** Only queues whose name contains this text. */
  name?: string;
  /** Only queues whose metadata has each of these keys with an equal value. */
  filter?: Record<string, unknown>;
  /** Also count every queue of the project that matches name and filter. */
  withCount?: boolean;
}

export interface QueuePage {
  /** In name order. */
  queues: QueueInfo[];
  /** Where the next page starts; null when this page is empty and no marker was given. */
  marker: string | null;
  /** With `withCount`: how many queues match in all. */
  count?: number;
}

export interface QueueController {
  /** Creates the queue; false (and no change) when it exists already. */
  create(project: ProjectId, queue: string, metadata?: QueueMetadata): Promise<boolean>;
  exists(project: ProjectId, queue: string): Promise<boolean>;
  getMetadata(project: ProjectId, queue: string): Promise<QueueMetadata>;
  /** Replaces the whole metadata document. */
  setMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void>;
  /** Deletes the queue with its messages, claims and subscriptions. No error when missing. */
  delete(project: ProjectId, queue: string): Promise<void>;
  list(project: ProjectId, options?: ListQueuesOptions): Promise<QueuePage>;
  stats(project: ProjectId, queue: string): Promise<QueueStats>;
}

export interface ListMessagesOptions {
  /** Opaque position returned by a previous page: the page starts after it. */
  marker?: string;
  limit?: number;
  /** Include messages posted by `clientId` (default false: a client does not hear itself). */
  echo?: boolean;
  clientId?: string;
  /** Include messages held by a live claim (default false). */
  includeClaimed?: boolean;
  /** Include messages whose delay has not passed (default false). */
  includeDelayed?: boolean;
}

export interface MessagePage {
  /** Oldest first. */
  messages: Message[];
  /** Where the next page starts: after the last message returned, else the marker given. */
  marker: string | null;
}

export interface DeleteMessageOptions {
  /** The claim holding the message; required when the message is claimed. */
  claimId?: string;
  /**
   * A Posthorn extension for consumers that must never acknowledge work they no longer own:
   * a message that is gone (deleted under a later claim, expired) is MessageNotFoundError
   * instead of the silent success Zaqar clients expect. With `claimId`, success therefore
   * proves the delete happened under that very claim.
   */
  fenced?: boolean;
}

export interface BulkDeleteOptions {
  /** When given, only messages held by a live claim among these are deleted (an empty list: none). */
  claimIds?: string[];
}

export interface PostOptions {
  /**
   * Makes the post idempotent (the IETF httpapi draft's Idempotency-Key, as Stripe uses it):
   * while the queue remembers the key — its `_idempotency_window` seconds from the first post
   * that used it, 3600 by default — a post with the same key stores nothing and answers the
   * first post's ids. A post of other messages (bodies, ttls or delays) with a remembered key
   * is IdempotencyKeyReusedError. 1 to 255 characters. Two posts with one key racing each
   * other store one post; both answer its ids. The key is stored with the post, atomically.
   */
  idempotencyKey?: string;
  /**
   * What the key is bound to, when a layer above changes the bodies before they reach the
   * store (encryption at rest: a new IV each time): postFingerprint() of the messages as the
   * client sent them. Left out, the store computes it from the messages it is given.
   */
  fingerprint?: string;
  /**
   * Called before the post resolves when a remembered key answered it and nothing was stored,
   * so a layer above does not count (quotas, metrics) what was not written.
   */
  onReplay?: () => void;
}

export interface MessageController {
  /**
   * Appends the messages in the given order, atomically (all or none), and returns their ids
   * in the same order. Creates the queue when missing. See PostOptions for idempotent posts.
   */
  post(
    project: ProjectId,
    queue: string,
    messages: NewMessage[],
    clientId: string,
    options?: PostOptions,
  ): Promise<string[]>;
  list(project: ProjectId, queue: string, options?: ListMessagesOptions): Promise<MessagePage>;
  /** The oldest (or newest) live message, claimed or not, delayed or not; null when empty. */
  first(project: ProjectId, queue: string, end?: 'oldest' | 'newest'): Promise<Message | null>;
  get(project: ProjectId, queue: string, id: string): Promise<Message>;
  /** The live messages among `ids`, in the order asked; unknown ids are left out. */
  bulkGet(project: ProjectId, queue: string, ids: string[]): Promise<Message[]>;
  /**
   * Deletes one message. No error when it does not exist (unless `fenced`). A claimed message needs its claim
   * id (MessageClaimedError); a claim id for a free message is MessageNotClaimedError; a
   * message held by another claim is MessageNotClaimedByError.
   */
  delete(project: ProjectId, queue: string, id: string, options?: DeleteMessageOptions): Promise<void>;
  /**
   * Deletes the listed live messages whether claimed or not (unless `claimIds` narrows it), in
   * one atomic storage call, and returns the ids it deleted, in the order asked, each once: with
   * `claimIds`, a fenced finish of many messages learns which it still held (a Worker reports
   * the others as lost leases). Unknown ids, or a missing queue, are no error: they are left out.
   */
  bulkDelete(project: ProjectId, queue: string, ids: string[], options?: BulkDeleteOptions): Promise<string[]>;
  /** Takes and deletes up to `limit` of the oldest free visible messages, atomically. */
  pop(project: ProjectId, queue: string, limit: number): Promise<Message[]>;
}

export interface CreateClaimOptions {
  /** Seconds the claim lasts. */
  ttl?: number;
  /** Seconds a claimed message outlives its claim at least. */
  grace?: number;
  /** Most messages to take. */
  limit?: number;
}

export interface UpdateClaimOptions {
  ttl?: number;
  grace?: number;
}

export interface ClaimController {
  /**
   * Takes up to `limit` of the oldest free, visible messages atomically: no message is ever
   * held by two live claims. A message that would expire before the claim ends lives on to
   * the claim's end plus grace. When the queue's metadata sets `_max_claim_count` and
   * `_dead_letter_queue`, a message already claimed that many times moves to the dead-letter
   * queue instead of being returned. Returns null when nothing could be claimed.
   */
  create(project: ProjectId, queue: string, options?: CreateClaimOptions): Promise<Claim | null>;
  get(project: ProjectId, queue: string, claimId: string): Promise<Claim>;
  /** Renews the claim: it now lasts `ttl` from now, and its messages live at least that long plus grace. */
  update(project: ProjectId, queue: string, claimId: string, options?: UpdateClaimOptions): Promise<void>;
  /** Releases the claim's messages. No error when it does not exist. */
  delete(project: ProjectId, queue: string, claimId: string): Promise<void>;
}

export interface CreateSubscriptionOptions {
  ttl?: number;
  options?: Record<string, unknown>;
}

export interface CreatedSubscription {
  id: string;
  /** False when the queue already had a subscription for this subscriber; `id` is then its id. */
  created: boolean;
}

export interface ListSubscriptionsOptions {
  marker?: string;
  limit?: number;
}

export interface SubscriptionPage {
  /** In creation order. */
  subscriptions: Subscription[];
  marker: string | null;
}

export interface UpdateSubscriptionOptions {
  subscriber?: string;
  /** A new lifetime, counted from now. */
  ttl?: number;
  options?: Record<string, unknown>;
}

export interface SubscriptionController {
  /** Subscribes `subscriber` to an existing queue; one subscription per (project, queue, subscriber). */
  create(
    project: ProjectId,
    queue: string,
    subscriber: string,
    options?: CreateSubscriptionOptions,
  ): Promise<CreatedSubscription>;
  list(project: ProjectId, queue: string, options?: ListSubscriptionsOptions): Promise<SubscriptionPage>;
  get(project: ProjectId, queue: string, id: string): Promise<Subscription>;
  getBySubscriber(project: ProjectId, queue: string, subscriber: string): Promise<Subscription | null>;
  exists(project: ProjectId, queue: string, id: string): Promise<boolean>;
  /** SubscriptionExistsError when the new subscriber has a subscription of its own already. */
  update(project: ProjectId, queue: string, id: string, changes: UpdateSubscriptionOptions): Promise<void>;
  /** No error when it does not exist. */
  delete(project: ProjectId, queue: string, id: string): Promise<void>;
  confirm(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void>;
}
