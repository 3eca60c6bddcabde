/**
 * The vocabulary every entry point shares: the storage contract and the values it takes and
 * gives. Each entry point re-exports this list, so whichever one a user imports, every type its
 * functions take or return can be named from it.
 */

export type {
  Capability,
  Claim,
  Clock,
  ErrorCode,
  GcReport,
  Limits,
  Logger,
  Message,
  MessageBody,
  MessageStamp,
  NewMessage,
  PosthornErrorOptions,
  ProjectId,
  QueueInfo,
  QueueMetadata,
  QueueStats,
  Subscription,
  Timer,
} from '../core/index.js';
export type {
  BulkDeleteOptions,
  ClaimController,
  ClaimTerms,
  CreateClaimOptions,
  CreatedSubscription,
  CreateSubscriptionOptions,
  DataDriver,
  DeleteMessageOptions,
  ListMessagesOptions,
  ListQueuesOptions,
  ListSubscriptionsOptions,
  MessageController,
  MessageDraft,
  MessagePage,
  MessageQuery,
  QueueController,
  QueuePage,
  QueueQuery,
  StoreEngine,
  StoreObserver,
  SubscriptionChanges,
  SubscriptionController,
  SubscriptionDraft,
  SubscriptionPage,
  UpdateClaimOptions,
  UpdateSubscriptionOptions,
} from '../store/contract/index.js';
