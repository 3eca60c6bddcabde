import {
  isPlainObject,
  type Limits,
  QUEUE_NAME_PATTERN,
  type QueueMetadata,
  RESERVED_METADATA,
} from '../core/index.js';
import { MAX_IDEMPOTENCY_WINDOW } from '../store/contract/index.js';
import { apiError } from './errors.js';
import type { ResourceKind } from './namespaces.js';

/**
 * Queue metadata keys that start with `_` and that Zaqar acts on. Zaqar treats a "falsy" value
 * (0, false, null, "", [] or {}) of these keys as not set: it skips its checks, ignores it when
 * posting, and shows the default on GET. The service does the same, so a client that stores
 * `"_default_message_ttl": 0` sees what it would see on Zaqar.
 */
export function isUnset(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

const BACKOFF_FUNCTIONS = new Set(['linear', 'arithmetic', 'exponential', 'geometric']);
const RETRY_INT_KEYS = [
  'retries_with_no_delay',
  'minimum_delay_retries',
  'minimum_delay',
  'maximum_delay',
  'maximum_delay_retries',
] as const;
/** Zaqar's LINEAR_INTERVAL: the step of the backoff between minimum and maximum delay. */
const RETRY_STEP_SECONDS = 5;

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function intInRange(metadata: QueueMetadata, key: string, min: number, max: number): void {
  const value = metadata[key];
  if (isUnset(value)) return;
  if (!isInteger(value)) throw apiError(key, `${key} must be an integer.`);
  if (value < min || value > max) throw apiError(key, `${key} must be between ${min} and ${max}.`);
}

/** Checks a `_retry_policy` (a queue's, or a subscription option's). */
export function checkRetryPolicy(value: unknown, field: string = RESERVED_METADATA.retryPolicy): void {
  if (isUnset(value)) return;
  if (!isPlainObject(value)) throw apiError(field, `${field} must be an object.`);
  for (const key of RETRY_INT_KEYS) {
    const item = value[key];
    if (isUnset(item)) continue;
    if (!isInteger(item) || item < 0) throw apiError(`${field}.${key}`, `${field}.${key} must be a whole number.`);
  }
  const fn = value.retry_backoff_function;
  if (!isUnset(fn) && (typeof fn !== 'string' || !BACKOFF_FUNCTIONS.has(fn))) {
    throw apiError(
      `${field}.retry_backoff_function`,
      `${field}.retry_backoff_function must be one of ${[...BACKOFF_FUNCTIONS].join(', ')}.`,
    );
  }
  const ignore = value.ignore_subscription_override;
  if (!isUnset(ignore) && typeof ignore !== 'boolean') {
    throw apiError(`${field}.ignore_subscription_override`, `${field}.ignore_subscription_override must be a boolean.`);
  }
  const min = value.minimum_delay;
  const max = value.maximum_delay;
  if (isInteger(min) && isInteger(max) && !isUnset(min) && !isUnset(max)) {
    if (max < min) throw apiError(field, `${field}: maximum_delay must not be less than minimum_delay.`);
    if (max - min < 2 * RETRY_STEP_SECONDS) {
      throw apiError(
        field,
        `${field}: maximum_delay must exceed minimum_delay by at least ${2 * RETRY_STEP_SECONDS} seconds.`,
      );
    }
  }
}

/**
 * Checks the reserved keys of a queue's metadata document (Zaqar's queue_metadata_putting, with
 * every key of the reserved table). Other keys are the user's and are not looked at.
 */
export function checkReservedMetadata(metadata: QueueMetadata, limits: Limits): void {
  const R = RESERVED_METADATA;
  intInRange(metadata, R.maxMessagesPostSize, 1, limits.maxMessagesPostSize);
  intInRange(metadata, R.defaultMessageTtl, limits.minMessageTtl, limits.maxMessageTtl);
  intInRange(metadata, R.defaultMessageDelay, limits.minMessageDelay, limits.maxMessageDelay);
  intInRange(metadata, R.maxClaimCount, 1, Number.MAX_SAFE_INTEGER);
  intInRange(metadata, R.deadLetterQueueMessagesTtl, limits.minMessageTtl, limits.maxMessageTtl);
  intInRange(metadata, R.idempotencyWindow, 1, MAX_IDEMPOTENCY_WINDOW);
  const dlq = metadata[R.deadLetterQueue];
  if (!isUnset(dlq)) {
    if (typeof dlq !== 'string' || dlq.length > limits.maxQueueNameLength || !QUEUE_NAME_PATTERN.test(dlq)) {
      throw apiError(R.deadLetterQueue, `${R.deadLetterQueue} must be a queue name.`);
    }
  }
  const encrypt = metadata[R.enableEncryptMessages];
  if (!isUnset(encrypt) && typeof encrypt !== 'boolean') {
    throw apiError(R.enableEncryptMessages, `${R.enableEncryptMessages} must be a boolean.`);
  }
  const flavor = metadata[R.flavor];
  if (!isUnset(flavor) && typeof flavor !== 'string') throw apiError(R.flavor, `${R.flavor} must be a flavor name.`);
  checkRetryPolicy(metadata[R.retryPolicy]);
}

/**
 * The reserved keys GET fills in when a queue has no (or an unset) value for them, with the
 * values they default to. Topics show fewer: Zaqar's topics have no dead-letter queues.
 */
export function reservedDefaults(kind: ResourceKind, limits: Limits): ReadonlyArray<readonly [string, unknown]> {
  const R = RESERVED_METADATA;
  const common: [string, unknown][] = [
    [R.maxMessagesPostSize, limits.maxMessagesPostSize],
    [R.defaultMessageTtl, limits.defaultMessageTtl],
    [R.defaultMessageDelay, limits.defaultMessageDelay],
  ];
  if (kind === 'topic') return common;
  return [
    ...common,
    [R.deadLetterQueue, null],
    [R.deadLetterQueueMessagesTtl, null],
    [R.maxClaimCount, null],
    [R.enableEncryptMessages, false],
  ];
}

/** Fills in the defaults of the reserved keys, in place, and returns the document. */
export function withReservedDefaults(
  metadata: QueueMetadata,
  defaults: ReadonlyArray<readonly [string, unknown]>,
): QueueMetadata {
  for (const [key, value] of defaults) {
    if (isUnset(metadata[key])) metadata[key] = value;
  }
  return metadata;
}

/** What posting to a queue takes from its metadata. */
export interface PostTerms {
  /** Largest request body accepted: the server's limit, or the queue's when it is lower. */
  maxPostSize: number;
  defaultTtl: number;
  defaultDelay: number;
  /** False when the queue has no `_default_message_delay`, so listings show delayed messages (Zaqar does). */
  hidesDelayed: boolean;
  /** The queue's `_enable_encrypt_messages` is true: bodies are sealed before they are stored. */
  encrypt: boolean;
}

export function postTerms(metadata: QueueMetadata | null, limits: Limits): PostTerms {
  const R = RESERVED_METADATA;
  const size = metadata?.[R.maxMessagesPostSize];
  const ttl = metadata?.[R.defaultMessageTtl];
  const delay = metadata?.[R.defaultMessageDelay];
  return {
    maxPostSize: isInteger(size) && size > 0 ? Math.min(size, limits.maxMessagesPostSize) : limits.maxMessagesPostSize,
    defaultTtl:
      isInteger(ttl) && ttl >= limits.minMessageTtl && ttl <= limits.maxMessageTtl ? ttl : limits.defaultMessageTtl,
    defaultDelay: isInteger(delay) && delay > 0 && delay <= limits.maxMessageDelay ? delay : limits.defaultMessageDelay,
    hidesDelayed: !isUnset(delay),
    encrypt: metadata?.[R.enableEncryptMessages] === true,
  };
}
