/**
 * Posthorn's public API: everything a library user imports from 'posthorn', listed by name.
 * Anything not here is internal and may change.
 */

export { DiskStorage, type Envelope, MessageQueue, type MessageQueueOptions } from './compat/index.js';
export {
  type Capability,
  type Claim,
  ClaimNotFoundError,
  type Clock,
  ClosedError,
  ConflictError,
  CorruptDataError,
  DEFAULT_LIMITS,
  type ErrorCode,
  FakeClock,
  type GcReport,
  GLOBAL_PROJECT,
  InvalidArgumentError,
  LimitExceededError,
  type Limits,
  LockedError,
  type Logger,
  type Message,
  type MessageBody,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  makeLimits,
  type NewMessage,
  NotFoundError,
  PosthornError,
  type ProjectId,
  QueueError,
  type QueueInfo,
  type QueueMetadata,
  QueueNotFoundError,
  type QueueStats,
  ResourceConflictError,
  ResourceNotFoundError,
  StorageFullError,
  StorageMisconfiguredError,
  StorageUnavailableError,
  type Subscription,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
  systemClock,
} from './core/index.js';
export type {
  ClaimController,
  DataDriver,
  MessageController,
  QueueController,
  StoreEngine,
  SubscriptionController,
} from './store/contract/index.js';
export { createDataDriver } from './store/contract/index.js';
export {
  createDiskDriver,
  type DamageReport,
  type DiskDriver,
  type DiskDriverOptions,
  type DiskUsage,
  type OpenStats,
} from './store/disk/index.js';
export { createMemoryDriver, type MemoryDriverOptions } from './store/memory/index.js';
export {
  createPostgresDriver,
  type PostgresDriverOptions,
  type PostgresLogger,
  parsePostgresUri,
} from './store/postgres/index.js';
export { createRedisDriver, parseRedisUri, type RedisDriverOptions, type RedisLocation } from './store/redis/index.js';
