import { createHash } from 'node:crypto';
import { encodeValue, isPlainObject, type QueueMetadata, RESERVED_METADATA } from '../../core/index.js';

/**
 * Rules every engine computes the same way, kept here so no engine can drift from another.
 */

/** Whole seconds from `since` to `now` (never negative). */
export function ageSeconds(now: number, since: number): number {
  return Math.max(0, Math.floor((now - since) / 1000));
}

export interface DeadLetterPolicy {
  maxClaimCount: number;
  queue: string;
  /** New ttl of a moved message in seconds, or null to keep its lifetime. */
  ttl: number | null;
}

/**
 * The queue's dead-letter policy: active only when both `_max_claim_count` and
 * `_dead_letter_queue` are set (Zaqar's rule), and never pointing at the queue itself.
 */
export function deadLetterPolicy(metadata: QueueMetadata, ownQueue: string): DeadLetterPolicy | null {
  const max = metadata[RESERVED_METADATA.maxClaimCount];
  const queue = metadata[RESERVED_METADATA.deadLetterQueue];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0) return null;
  if (typeof queue !== 'string' || queue.length === 0 || queue === ownQueue) return null;
  const ttl = metadata[RESERVED_METADATA.deadLetterQueueMessagesTtl];
  return { maxClaimCount: max, queue, ttl: typeof ttl === 'number' && Number.isInteger(ttl) && ttl > 0 ? ttl : null };
}

/** Whether a queue passes a listing's name and metadata filters. */
export function queueMatches(
  name: string,
  metadata: QueueMetadata,
  nameFilter: string | null,
  filter: Record<string, unknown> | null,
): boolean {
  if (nameFilter !== null && !name.includes(nameFilter)) return false;
  if (filter === null) return true;
  for (const [key, wanted] of Object.entries(filter)) {
    if (!(key in metadata) || !sameJson(metadata[key], wanted)) return false;
  }
  return true;
}

/** Deep equality of JSON values. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}

/** How long a queue remembers an idempotency key when its metadata does not say (seconds). */
export const DEFAULT_IDEMPOTENCY_WINDOW = 3600;
/** The longest `_idempotency_window`: the longest a message may live. */
export const MAX_IDEMPOTENCY_WINDOW = 1_209_600;
/** The longest idempotency key a store keeps (the IETF draft sets no bound; Stripe's is 255). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * Seconds the queue remembers an idempotency key, counted from the first post that used it:
 * its `_idempotency_window` when that is a whole number in 1..MAX_IDEMPOTENCY_WINDOW, else the
 * default. Zaqar treats a falsy reserved value as unset, so 0 means the default, not "off": a
 * producer that wants no remembering sends no key.
 */
export function idempotencyWindow(metadata: QueueMetadata | null | undefined): number {
  const value = metadata?.[RESERVED_METADATA.idempotencyWindow];
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_IDEMPOTENCY_WINDOW
    ? value
    : DEFAULT_IDEMPOTENCY_WINDOW;
}

/** What a post's fingerprint covers: each message's body and the lifetimes it asked for. */
export interface FingerprintedMessage {
  body: unknown;
  ttl: number;
  delay: number;
}

/**
 * The fingerprint an idempotency key is bound to: SHA-256 over a canonical MessagePack encoding
 * of every message's body, ttl and delay, in order. Object keys are sorted first, so a client
 * that re-serialises the same body with its keys in another order still repeats, not conflicts.
 */
export function postFingerprint(messages: readonly FingerprintedMessage[]): string {
  const hash = createHash('sha256');
  for (const m of messages) hash.update(encodeValue([canonical(m.body), m.ttl, m.delay]));
  return hash.digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isPlainObject(value)) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = canonical(value[key]);
    return sorted;
  }
  return value;
}
