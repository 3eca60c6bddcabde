/**
 * `posthorn`: the embedded library — core types and errors, the storage contract, the memory and
 * disk stores, the seeds' facades (DiskStorage, MessageQueue), the delivery Spool and the
 * Multispool. Everything a public function here takes or returns is exported here too; anything
 * not listed is internal and may change.
 *
 * Importing this loads no driver of a server (ioredis, pg) and no HTTP framework (fastify): a
 * project that installs Posthorn with `--omit=optional` can use the embedded store. Redis,
 * PostgreSQL, pooling and the server have entry points of their own.
 */

export type {
  Backoff,
  BackoffFunction,
  DriverQueueOptions,
  ExponentialBackoff,
  FinishOutcome,
  Job,
  JobContext,
  JobHandler,
  WorkClaim,
  WorkClaimOptions,
  WorkerEvents,
  WorkerOptions,
  WorkMessage,
  WorkPost,
  WorkPostOptions,
  WorkQueue,
} from '../client/workers.js';
export { driverQueue, LeaseLostError, Worker } from '../client/workers.js';
export type { MessageQueueOptions } from '../compat/index.js';
export { DiskStorage, MessageQueue } from '../compat/index.js';
export type {
  Envelope,
  FaultKind,
  FileIo,
  FileOp,
  Header,
  RateLimitName,
  SpooledEnvelope,
} from '../core/index.js';
export {
  ClaimNotFoundError,
  ClosedError,
  ConflictError,
  CorruptDataError,
  DamagedMessageError,
  DEFAULT_LIMITS,
  EncryptionKeyUnavailableError,
  FakeClock,
  FaultyFileIo,
  ForbiddenError,
  GLOBAL_PROJECT,
  IdempotencyKeyReusedError,
  IdentityUnavailableError,
  InvalidArgumentError,
  isPosthornError,
  LimitExceededError,
  LockedError,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  makeLimits,
  NotASpoolError,
  NotFoundError,
  nodeFileIo,
  PosthornError,
  QueueError,
  QueueNotFoundError,
  RateLimitedError,
  ResourceConflictError,
  ResourceNotFoundError,
  StorageFullError,
  StorageMisconfiguredError,
  StorageUnavailableError,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
  systemClock,
  UnauthenticatedError,
} from '../core/index.js';
export type {
  DataCodec,
  DirSyncer,
  EnqueueName,
  EntryAction,
  EntryDecision,
  EntrySource,
  Layout,
  MetadataCodec,
  MultispoolOptions,
  NameGenerator,
  QueueReaderOptions,
  RecoveryReport,
  ScratchKind,
  Spoolable,
  SpoolFiles,
  SpoolLog,
  SpoolLogLevel,
  Throttle,
} from '../multispool/index.js';
export {
  bytesData,
  CheckedOutEntry,
  DataFile,
  Entry,
  jsonData,
  jsonMetadata,
  Multispool,
  NewerMetadataError,
  QueueReader,
  textData,
  timeOrderedNames,
  UniqueName,
} from '../multispool/index.js';
export type {
  Bounce,
  BounceHook,
  DeliveryFunction,
  DeliveryJob,
  DeliveryReport,
  FailedRecipient,
  MessageState,
  RecipientInfo,
  RecipientOutcome,
  Section,
  SendWhich,
  SmtpDeliveryOptions,
  SmtpHop,
  SpoolEvent,
  SpooledMessageInfo,
  SpoolOptions,
  SpoolStatus,
} from '../spool/index.js';
export { DEFAULT_RETRY_INTERVALS, parseIntervals, Spool, smtpDelivery } from '../spool/index.js';
export { createDataDriver } from '../store/contract/index.js';
export type {
  DamageReport,
  DiskDriver,
  DiskDriverOptions,
  DiskUsage,
  OpenStats,
  SetAsideMessage,
} from '../store/disk/index.js';
export { createDiskDriver } from '../store/disk/index.js';
export type { MemoryDriverOptions } from '../store/memory/index.js';
export { createMemoryDriver } from '../store/memory/index.js';
export type * from './shared-types.js';
