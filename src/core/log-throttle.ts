import type { Clock } from './clock.js';

/**
 * Keeps a failure that repeats from flooding the log: the first occurrence of a key is logged,
 * repeats within `everyMs` are only counted, and the next line after the interval says how many
 * were left out. A store that is down fails every request; the log shows that once a minute.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; skipped: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
    /** Keys remembered at most; the oldest is forgotten first. */
    private readonly maxKeys = 1000,
  ) {}

  /**
   * Whether to log this occurrence of `key` now: null when it is to be left out, else how many
   * occurrences were left out since the last line of it (0 the first time).
   */
  take(key: string): number | null {
    const now = this.clock.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.at < this.everyMs) {
      entry.skipped++;
      return null;
    }
    const skipped = entry?.skipped ?? 0;
    this.seen.delete(key);
    if (this.seen.size >= this.maxKeys) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(key, { at: now, skipped: 0 });
    return skipped;
  }
}
