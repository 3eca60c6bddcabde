export type { QueuePage } from '../store/contract/index.js';
export { AdminToken } from './admin-token.js';
export * from './auth/index.js';
export { messageChecksum, pythonJson } from './checksum.js';
export {
  MAX_REDRIVE_MESSAGES,
  type RedriveContext,
  type RedriveRequest,
  type RedriveResult,
  readRedriveRequest,
  redrive,
  redriveDocument,
} from './dead-letters.js';
export {
  type ClaimTermsDocument,
  DEFAULT_SUBSCRIBER_TYPES,
  type PurgeableResource,
  type SubscriptionDocument,
} from './documents.js';
export { type DriverResolver, singleDriverResolver } from './driver-resolver.js';
export { apiError, bodyError, MessagesTooLargeError, RequestRefusedError, TITLES } from './errors.js';
export {
  DEFAULT_REFUSAL_DELAY_MS,
  FairShare,
  type FairShareLimits,
  type FairShareOptions,
  type RateLimit,
} from './fair-share.js';
export {
  deriveKeyId,
  type EncryptionKey,
  isSealed,
  type KeyRing,
  MessageCipher,
  readEncryptionKey,
} from './message-cipher.js';
export type { MessageCounters } from './message-counters.js';
export { applyMetadataPatch, type MetadataChange, parseMetadataPatch } from './metadata-patch.js';
export {
  healthProject,
  NAMESPACE_PREFIX_LENGTH,
  quotaProject,
  type ResourceKind,
  storeLimits,
  storeProject,
} from './namespaces.js';
export type { DeliveryCounts, NotificationHooks } from './notify/hooks.js';
export {
  type FlavorView,
  type MoveOptions,
  type MoveRecord,
  type MoveReport,
  type PageQuery,
  PoolAdministration,
  type PoolView,
} from './pool-administration.js';
export {
  type OperationStatus,
  QueueService,
  type QueueServiceOptions,
  type StorageHealth,
  type StoreState,
} from './queue-service.js';
export {
  bodySize,
  QuotaBook,
  type QuotaReport,
  type QuotaRequest,
  type QuotaReservation,
  type QuotaUsage,
} from './quota-book.js';
export {
  DEFAULT_QUOTA_REFRESH_SECONDS,
  isQuotaValue,
  QUOTA_KEYS,
  type QuotaKey,
  type QuotaLimits,
  type QuotaOverride,
  type QuotaSettings,
  readQuotaDocument,
  resolveQuotas,
  UNLIMITED,
} from './quotas.js';
export {
  type ClientIdPolicy,
  checkClientId,
  checkProjectId,
  DEFAULT_CLIENT_ID_POLICY,
  parseUuid,
} from './request-identity.js';
export {
  checkReservedMetadata,
  isUnset,
  type PostTerms,
  postTerms,
  reservedDefaults,
  withReservedDefaults,
} from './reserved-metadata.js';
export {
  ClaimScope,
  type CreatedSubscriptionResult,
  type ListMessagesQuery,
  type ListQueuesQuery,
  type MessageDeletion,
  MessageScope,
  QueueScope,
  ResourceScope,
  type ScopeContext,
  type ScopeSettings,
  SubscriptionScope,
} from './scope/index.js';
export {
  formatExpires,
  isoSeconds,
  type PresentedSignature,
  parseIsoDate,
  SIGNABLE_RESOURCES,
  type SignedUrl,
  shareQueue,
  signUrl,
  verifySignature,
} from './signed-urls.js';
