export {
  decodeBatch,
  encodeBatch,
  type NotificationBatch,
  parseRecipient,
  recipientOf,
  type SpooledSubscription,
} from './batch.js';
export { DeliveryLedger, LEDGER_FILE, type LedgerEntry, readLedgerFile } from './delivery-ledger.js';
export {
  DestinationDeniedError,
  DestinationPolicy,
  type DestinationPolicyOptions,
  type HostResolver,
  parseNetwork,
} from './destination-policy.js';
export type { DeliveryCounts, NotificationHooks } from './hooks.js';
export { DEFAULT_SMTP_RELAY, type SmtpRelay } from './mail-sender.js';
export { Notifier, type NotifierOptions } from './notifier.js';
export { readNotificationStatus, type SubscriptionDeliveryStatus } from './notify-status.js';
export {
  type ConfirmationType,
  confirmationPayload,
  notificationPayload,
  type Payload,
  payloadJson,
  webhookBody,
  webhookHeaders,
} from './payloads.js';
export { backoffDelays, effectiveRetryPolicy, MAX_RETRIES, RETRY_DEFAULTS, retryIntervals } from './retry-schedule.js';
export { listNotificationSlots, MAX_SLOTS, type NotificationSlot, notificationSlot } from './slots.js';
export {
  type BusySpoolEntry,
  NotificationSpools,
  type SpoolActionResult,
  type SpoolEntry,
  type SpoolListing,
} from './spool-admin.js';
export { parseSubscriber, type SubscriberTarget } from './subscriber-uri.js';
export { outcomeOfStatus, type PairOutcome, PERMANENT } from './webhook-sender.js';
