import { InvalidArgumentError } from '../core/index.js';

/** Milliseconds to wait before the next attempt, given the attempt that failed (1 = the first). */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/**
 * Exponential backoff: `base * factor^(attempt-1)`, at most `max`. Jitter spreads retries of a
 * batch that failed together (a dependency went down) so they do not come back together:
 * 'equal' waits between half and all of the delay, 'full' anywhere up to it, 'none' exactly it.
 */
export interface ExponentialBackoff {
  type: 'exponential';
  /** Milliseconds after the first failure (default 1000). */
  base?: number;
  factor?: number;
  /** Longest wait in milliseconds (default 15 minutes, the longest delay a Zaqar queue takes). */
  max?: number;
  jitter?: 'equal' | 'full' | 'none';
}

export type Backoff = ExponentialBackoff | BackoffFunction;

export const DEFAULT_BACKOFF: ExponentialBackoff = { type: 'exponential', base: 1000, factor: 2, max: 900_000 };

/** The wait after `attempt` failed, in milliseconds (never negative). */
export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  error: unknown,
  random: () => number = Math.random,
): number {
  if (typeof backoff === 'function') {
    const ms = backoff(attempt, error);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError('backoff', `must answer a finite number of milliseconds >= 0, not ${ms}`);
    }
    return ms;
  }
  const base = backoff.base ?? 1000;
  const factor = backoff.factor ?? 2;
  const max = backoff.max ?? 900_000;
  const exact = Math.min(max, base * factor ** Math.max(0, attempt - 1));
  switch (backoff.jitter ?? 'equal') {
    case 'none':
      return exact;
    case 'full':
      return random() * exact;
    default:
      return exact / 2 + (random() * exact) / 2;
  }
}

/** Checks a backoff option once, at construction, so a typo fails early rather than at the first failure. */
export function checkBackoff(backoff: Backoff): Backoff {
  if (typeof backoff === 'function') return backoff;
  if (backoff === null || typeof backoff !== 'object' || backoff.type !== 'exponential') {
    throw new InvalidArgumentError('backoff', 'must be a function or { type: "exponential", ... }');
  }
  for (const key of ['base', 'factor', 'max'] as const) {
    const value = backoff[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new InvalidArgumentError(`backoff.${key}`, 'must be a finite number >= 0');
    }
  }
  if (backoff.jitter !== undefined && !['equal', 'full', 'none'].includes(backoff.jitter)) {
    throw new InvalidArgumentError('backoff.jitter', 'must be "equal", "full" or "none"');
  }
  return backoff;
}
