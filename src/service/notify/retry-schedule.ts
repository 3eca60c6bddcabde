import { isPlainObject, RESERVED_METADATA } from '../../core/index.js';

/**
 * Zaqar's `_retry_policy` (zaqar/notification/tasks/webhook.py `_retry_post`) turned into the
 * delivery Spool's retry intervals. Zaqar sleeps in a worker thread between attempts, so a
 * restart loses every pending retry; here each wait is an interval of a spooled message, written
 * to disk after every attempt, so the schedule survives a restart and resumes where it was.
 *
 * After a first attempt that fails, Zaqar tries again:
 *   `retries_with_no_delay` times at once,
 *   `minimum_delay_retries` times, `minimum_delay` seconds apart,
 *   once after each delay of the backoff function between `minimum_delay` and `maximum_delay`
 *     (steps of 5 seconds: linear, arithmetic, geometric or exponential),
 *   `maximum_delay_retries` times, `maximum_delay` seconds apart,
 * then gives up. Defaults: 3, 3, 5 s, linear 5..30 s (5, 10, 15, 20, 25), 3 at 30 s.
 */

export const RETRY_DEFAULTS = Object.freeze({
  retries_with_no_delay: 3,
  minimum_delay_retries: 3,
  minimum_delay: 5,
  maximum_delay: 30,
  maximum_delay_retries: 3,
  retry_backoff_function: 'linear',
});

/** Zaqar's LINEAR_INTERVAL: the step, in seconds, of every backoff function. */
const STEP_SECONDS = 5;

/** The spool keeps at most this many intervals per message; a policy asking for more is cut there. */
export const MAX_RETRIES = 1000;

type Policy = Record<string, unknown>;

function policyOf(value: unknown): Policy {
  return isPlainObject(value) ? value : {};
}

/** Python's truthiness, for the `or` of Zaqar's policy choice: {} , 0, false, '' and null are false. */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/**
 * The policy that applies to a subscription, chosen as Zaqar chooses it: the subscription's own
 * (`options._retry_policy`), else the queue's (`_retry_policy` in its metadata); but the queue's
 * alone when either says `ignore_subscription_override`.
 */
export function effectiveRetryPolicy(subscriptionOptions: unknown, queueMetadata: unknown): Policy {
  const own = policyOf(isPlainObject(subscriptionOptions) ? subscriptionOptions[RESERVED_METADATA.retryPolicy] : null);
  const queue = policyOf(isPlainObject(queueMetadata) ? queueMetadata[RESERVED_METADATA.retryPolicy] : null);
  if (truthy(own.ignore_subscription_override) || truthy(queue.ignore_subscription_override)) return queue;
  if (truthy(own)) return own;
  return queue;
}

/** A key of the policy as Python's dict.get(key, default) reads it; null (None in Zaqar, a crash) takes the default. */
function intOf(policy: Policy, key: keyof typeof RETRY_DEFAULTS): number {
  const value = policy[key];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  return RETRY_DEFAULTS[key] as number;
}

function linear(min: number, max: number): number[] {
  const out: number[] = [];
  for (let x = min; x < max; x += STEP_SECONDS) out.push(x);
  return out;
}

function geometric(min: number, max: number): number[] {
  const n = Math.trunc((max - min) / STEP_SECONDS);
  const k = 10 ** (Math.log10(max / min) / (n - 1));
  return Array.from({ length: n }, (_, i) => Math.trunc(min * k ** i));
}

function exponential(min: number, max: number): number[] {
  const n = Math.trunc((max - min) / STEP_SECONDS);
  const k = 10 ** (Math.log10(max / min) / (n - 1));
  const p = min / k;
  return Array.from({ length: n }, (_, i) => Math.trunc(p * k ** (i + 1)));
}

function arithmetic(min: number, max: number): number[] {
  const n = Math.trunc((max - min) / STEP_SECONDS);
  const d = (2 * (max - min)) / (n * (n - 1));
  return Array.from({ length: n }, (_, i) => Math.trunc(min + (i * (i + 1) * d) / 2));
}

const BACKOFF: Record<string, (min: number, max: number) => number[]> = {
  linear,
  arithmetic,
  geometric,
  exponential,
};

/**
 * The delays, in seconds, of the backoff phase. Zaqar's formulas divide by the minimum delay and
 * by the number of steps less one; a policy that makes them meaningless (a minimum of 0 for the
 * geometric curves, fewer than two steps) falls back to the linear steps instead of crashing as
 * Zaqar's worker would.
 */
export function backoffDelays(fn: string, min: number, max: number): number[] {
  const curve = BACKOFF[fn] ?? linear;
  const delays = curve(min, max);
  if (delays.every((d) => Number.isFinite(d) && d >= 0)) return delays;
  return linear(min, max);
}

/** The waits, in milliseconds, after each failed attempt under `policy` (see effectiveRetryPolicy). */
export function retryIntervals(policy: Policy): number[] {
  const min = intOf(policy, 'minimum_delay');
  const max = intOf(policy, 'maximum_delay');
  const fn = typeof policy.retry_backoff_function === 'string' ? policy.retry_backoff_function : 'linear';
  const seconds: number[] = [];
  const push = (delay: number, times: number) => {
    for (let i = 0; i < times && seconds.length < MAX_RETRIES; i++) seconds.push(delay);
  };
  push(0, intOf(policy, 'retries_with_no_delay'));
  push(min, intOf(policy, 'minimum_delay_retries'));
  for (const delay of backoffDelays(fn, min, max)) push(delay, 1);
  push(max, intOf(policy, 'maximum_delay_retries'));
  return seconds.map((s) => s * 1000);
}
