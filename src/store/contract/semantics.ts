import { isPlainObject, type QueueMetadata, RESERVED_METADATA } from '../../core/index.js';

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
