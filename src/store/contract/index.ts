export type * from './driver.js';
export type * from './engine.js';
export { checkMessages, createDataDriver, MAX_SUBSCRIBER_LENGTH } from './guard.js';
export {
  ageSeconds,
  DEFAULT_IDEMPOTENCY_WINDOW,
  type DeadLetterPolicy,
  deadLetterPolicy,
  type FingerprintedMessage,
  idempotencyWindow,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_IDEMPOTENCY_WINDOW,
  postFingerprint,
  queueMatches,
  sameJson,
} from './semantics.js';
export type { StoreObserver } from './store-observer.js';
