import type {
  Capability,
  Claim,
  GcReport,
  Message,
  MessageBody,
  ProjectId,
  QueueMetadata,
  QueueStats,
  Subscription,
} from '../../core/index.js';
import type { CreatedSubscription, MessagePage, QueuePage, SubscriptionPage } from './driver.js';

/**
 * What a driver author writes: the storage operations with every argument already checked and
 * every default filled in by createDataDriver (guard.ts). An engine does storage only; it never
 * validates what the guard validates, so every driver refuses bad input the same way.
 */
export interface StoreEngine {
  readonly kind: string;
  readonly capabilities: ReadonlySet<Capability>;

  createQueue(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<boolean>;
  queueExists(project: ProjectId, queue: string): Promise<boolean>;
  getQueueMetadata(project: ProjectId, queue: string): Promise<QueueMetadata>;
  setQueueMetadata(project: ProjectId, queue: string, metadata: QueueMetadata): Promise<void>;
  deleteQueue(project: ProjectId, queue: string): Promise<void>;
  listQueues(project: ProjectId, query: QueueQuery): Promise<QueuePage>;
  queueStats(project: ProjectId, queue: string): Promise<QueueStats>;

  /**
   * With `idempotency`, the engine stores the key with the post in the same atomic write, and a
   * post whose key it remembers (unexpired, see idempotencyWindow) stores nothing: it answers
   * the first post's ids when the fingerprints match, else throws IdempotencyKeyReusedError.
   */
  postMessages(
    project: ProjectId,
    queue: string,
    messages: MessageDraft[],
    clientId: string,
    idempotency: IdempotentPost | null,
  ): Promise<string[]>;
  listMessages(project: ProjectId, queue: string, query: MessageQuery): Promise<MessagePage>;
  firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null>;
  getMessage(project: ProjectId, queue: string, id: string): Promise<Message>;
  bulkGetMessages(project: ProjectId, queue: string, ids: string[]): Promise<Message[]>;
  /** True when the message was deleted, false when there was none to delete (gone or expired). */
  deleteMessage(project: ProjectId, queue: string, id: string, claimId: string | null): Promise<boolean>;
  /** The ids deleted, in the order asked, each once (MessageController.bulkDelete). */
  bulkDeleteMessages(project: ProjectId, queue: string, ids: string[], claimIds: string[] | null): Promise<string[]>;
  popMessages(project: ProjectId, queue: string, limit: number): Promise<Message[]>;

  createClaim(project: ProjectId, queue: string, terms: ClaimTerms & { limit: number }): Promise<Claim | null>;
  getClaim(project: ProjectId, queue: string, claimId: string): Promise<Claim>;
  updateClaim(project: ProjectId, queue: string, claimId: string, terms: ClaimTerms): Promise<void>;
  deleteClaim(project: ProjectId, queue: string, claimId: string): Promise<void>;

  createSubscription(project: ProjectId, queue: string, draft: SubscriptionDraft): Promise<CreatedSubscription>;
  listSubscriptions(
    project: ProjectId,
    queue: string,
    query: { marker: string | null; limit: number },
  ): Promise<SubscriptionPage>;
  getSubscription(project: ProjectId, queue: string, id: string): Promise<Subscription>;
  getSubscriptionBySubscriber(project: ProjectId, queue: string, subscriber: string): Promise<Subscription | null>;
  subscriptionExists(project: ProjectId, queue: string, id: string): Promise<boolean>;
  updateSubscription(project: ProjectId, queue: string, id: string, changes: SubscriptionChanges): Promise<void>;
  deleteSubscription(project: ProjectId, queue: string, id: string): Promise<void>;
  confirmSubscription(project: ProjectId, queue: string, id: string, confirmed: boolean): Promise<void>;

  isAlive(): Promise<boolean>;
  gc(): Promise<GcReport>;
  close(): Promise<void>;
}

export interface QueueQuery {
  marker: string | null;
  limit: number;
  detailed: boolean;
  name: string | null;
  filter: Record<string, unknown> | null;
  withCount: boolean;
}

export interface MessageDraft {
  body: MessageBody;
  ttl: number;
  delay: number;
  checksum: string | null;
}

/** A checked idempotency key and the fingerprint of the post it is bound to (hex SHA-256). */
export interface IdempotentPost {
  key: string;
  fingerprint: string;
  /** The engine calls it when the key answered the post and it stored nothing. */
  replayed: () => void;
}

export interface MessageQuery {
  marker: string | null;
  limit: number;
  echo: boolean;
  clientId: string | null;
  includeClaimed: boolean;
  includeDelayed: boolean;
}

export interface ClaimTerms {
  ttl: number;
  grace: number;
}

export interface SubscriptionDraft {
  subscriber: string;
  ttl: number;
  options: Record<string, unknown>;
}

export interface SubscriptionChanges {
  subscriber?: string;
  ttl?: number;
  options?: Record<string, unknown>;
}
