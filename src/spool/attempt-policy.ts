import type { ReportedOutcome } from './delivery-call.js';
import type { MessageMeta } from './message-metadata.js';
import { freezeMeta } from './transitions.js';
import type { FailedRecipient, RecipientInfo } from './types.js';

/**
 * The retry and bounce policy of one delivery attempt, as pure functions of a message's
 * metadata and what the delivery function reported: whether to deliver at all, and then whether
 * the message is done, waits for its next interval, is frozen, or has run out of chances. No
 * disk and no clock, so every rule can be tested on its own; the Spool carries the decisions out.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Retry intervals when none are given: quick at first, then hourly and daily, about four and a
 * half days in all (Postfix keeps mail five days by default) before the message freezes or bounces.
 */
export const DEFAULT_RETRY_INTERVALS: readonly number[] = Object.freeze([
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  4 * HOUR,
  8 * HOUR,
  12 * HOUR,
  24 * HOUR,
  24 * HOUR,
  24 * HOUR,
]);

/** What one call of the delivery function came to: an outcome per recipient it named, or one failure for all. */
export type AttemptReport = { outcomes: ReadonlyMap<string, ReportedOutcome> } | { failure: string };

/** Whether a message checked out for delivery is delivered now. */
export type AttemptStart =
  /** No longer due (an operator changed or postponed it meanwhile): put back as it is. */
  | { kind: 'leave' }
  /** An operator asked for a freeze while it waited for its turn. */
  | { kind: 'freeze'; meta: MessageMeta; reason: string }
  /** Deliver to `pending` (none left: decide at once, with no report). */
  | { kind: 'deliver'; pending: string[]; attempt: number };

/** What an attempt leaves; every `meta` is the metadata to save. */
export type AttemptDecision =
  /** Every recipient delivered: the message leaves the spool. */
  | { kind: 'delivered'; recipients: string[] }
  | { kind: 'freeze'; meta: MessageMeta; reason: string }
  /** Recipients are pending and an interval is left: try them again at `until`. */
  | { kind: 'retry'; meta: MessageMeta; until: number; reason: string; delivered: string[]; failed: string[] }
  /**
   * Out of chances (failed for good, or no interval left): bounced when a bounce hook takes it,
   * else frozen as `meta` says, for `reason`.
   */
  | { kind: 'give-up'; meta: MessageMeta; reason: string; failed: FailedRecipient[]; delivered: string[] };

export function startAttempt(meta: MessageMeta, now: number, freezeRequested: string | null): AttemptStart {
  if (meta.status !== 'send-now' && meta.status !== 'send-at') return { kind: 'leave' };
  if (meta.status === 'send-at' && (meta.nextAttemptAt ?? now) > now) return { kind: 'leave' };
  if (freezeRequested !== null)
    return { kind: 'freeze', meta: freezeMeta(meta, freezeRequested), reason: freezeRequested };
  const pending = meta.recipients.filter((r) => r.state === 'pending').map((r) => r.address);
  return { kind: 'deliver', pending, attempt: meta.attempts + 1 };
}

/**
 * After an attempt that ended at `now`: the report (null when nothing was delivered because no
 * recipient was pending) is applied to the recipients, then the message is done, retried at its
 * next interval, frozen as an operator asked meanwhile, or out of chances. A freeze asked for
 * during an attempt that delivers every recipient is moot.
 */
export function decide(
  meta: MessageMeta,
  report: AttemptReport | null,
  now: number,
  freezeRequested: string | null = null,
): AttemptDecision {
  const next = report === null ? meta : applyReport(meta, report, now);
  const pending = next.recipients.filter((r) => r.state === 'pending');
  const failed = next.recipients.filter((r) => r.state === 'failed');
  const delivered = next.recipients.filter((r) => r.state === 'delivered').map((r) => r.address);
  if (pending.length === 0 && failed.length === 0) return { kind: 'delivered', recipients: delivered };
  if (freezeRequested !== null)
    return { kind: 'freeze', meta: freezeMeta(next, freezeRequested), reason: freezeRequested };
  const [wait, ...rest] = next.retryIntervals;
  if (pending.length > 0 && wait !== undefined) {
    const until = now + wait;
    return {
      kind: 'retry',
      meta: { ...next, status: 'send-at', nextAttemptAt: until, retryIntervals: rest },
      until,
      reason: next.lastError ?? 'not delivered',
      delivered,
      failed: failed.map((r) => r.address),
    };
  }
  const undelivered: FailedRecipient[] = [
    ...failed.map((r) => ({ recipient: r.address, reason: r.reason ?? 'failed' })),
    ...pending.map((r) => ({
      recipient: r.address,
      reason: `${r.reason ?? 'not delivered'} (no retry intervals left)`,
    })),
  ];
  const reason =
    pending.length > 0
      ? 'retry intervals exhausted'
      : `failed for good: ${undelivered.map((f) => f.recipient).join(', ')}`;
  return {
    kind: 'give-up',
    meta: { ...next, status: 'frozen', nextAttemptAt: null, frozenReason: reason },
    reason,
    failed: undelivered,
    delivered,
  };
}

/** How long a message waits after its job broke outside the delivery function (a disk error). */
export function waitAfterJobFailure(retryIntervals: readonly number[]): number {
  return Math.max(retryIntervals[0] ?? MINUTE, 1000);
}

/**
 * The recipients after an attempt: each pending one takes the outcome reported for it (one left
 * out is tried later); without a report every pending recipient is tried later for the same reason.
 */
function applyReport(meta: MessageMeta, report: AttemptReport, finished: number): MessageMeta {
  let lastError: string | null = null;
  const recipients = meta.recipients.map((r): RecipientInfo => {
    if (r.state !== 'pending') return r;
    const outcome: ReportedOutcome =
      'failure' in report
        ? { status: 'try-later', reason: report.failure }
        : (report.outcomes.get(r.address) ?? {
            status: 'try-later',
            reason: 'the delivery function reported no result',
          });
    if (outcome.status === 'delivered') return { ...r, state: 'delivered', reason: null, at: finished };
    lastError ??= outcome.reason;
    if (outcome.status === 'failed') return { ...r, state: 'failed', reason: outcome.reason, at: finished };
    return { ...r, reason: outcome.reason };
  });
  return { ...meta, attempts: meta.attempts + 1, lastAttemptAt: finished, lastError, recipients };
}
