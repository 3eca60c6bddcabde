import type { Logger, LogThrottle } from '../../core/index.js';

/**
 * Logs a failed request's error without flooding: the first of a kind (same code and message)
 * with its cause and stack, repeats within the throttle's interval only counted, then one line
 * saying how many there were. A store that is down fails every request alike.
 */
export function logFailure(
  log: Pick<Logger, 'error'>,
  throttle: LogThrottle,
  error: unknown,
  method: string,
  route: string | null,
): void {
  const code = (error as { code?: unknown }).code;
  const key = `${typeof code === 'string' ? code : 'error'} ${(error as Error)?.message ?? String(error)}`;
  const skipped = throttle.take(key);
  if (skipped === null) return;
  log.error(
    { err: error, method, route, ...(skipped > 0 ? { repeated: skipped } : {}) },
    skipped > 0 ? `requests failed (${skipped} more like this since the last line)` : 'request failed',
  );
}
