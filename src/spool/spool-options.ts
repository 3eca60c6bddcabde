import { type Clock, InvalidArgumentError, isPlainObject } from '../core/index.js';
import type { SpoolLog } from '../multispool/index.js';
import { checkIntervals } from './arguments.js';
import type { BounceHook, DeliveryFunction } from './types.js';

/** What a Spool is opened with; checked whole before anything touches the disk. */
export interface SpoolOptions<H> {
  /** The spool folder; made when missing unless `createIfMissing` is false. */
  dir: string;
  /** Delivers one section to its pending recipients and reports per recipient. */
  deliver: DeliveryFunction<H>;
  /** Time for schedules and timeouts; tests pass a FakeClock. */
  clock?: Clock;
  /** Default retry intervals in ms (see DEFAULT_RETRY_INTERVALS). */
  retryIntervals?: readonly number[];
  /** Deliveries at once; default 16. */
  maxConcurrentJobs?: number;
  /** A delivery that has not reported after this long (ms) counts as try-later; default 10 minutes. */
  deliveryTimeoutMs?: number;
  /** Called when a message fails for good; without it such messages are frozen. */
  bounce?: BounceHook<H>;
  log?: SpoolLog;
  createIfMissing?: boolean;
  /**
   * Other processes (the `posthorn spool` command) may change messages on disk; change notices
   * tell this spool at once, and a re-scan this often (wall-clock ms) catches lost notices. Default 30 s.
   */
  rescanIntervalMs?: number;
}

/** Throws InvalidArgumentError naming the first option that is wrong. */
export function checkOptions<H>(options: SpoolOptions<H>): void {
  if (!isPlainObject(options)) throw new InvalidArgumentError('options', 'must be an object');
  if (typeof options.dir !== 'string' || options.dir.length === 0)
    throw new InvalidArgumentError('dir', 'must be a path');
  if (typeof options.deliver !== 'function') throw new InvalidArgumentError('deliver', 'must be a function');
  if (options.bounce !== undefined && typeof options.bounce !== 'function') {
    throw new InvalidArgumentError('bounce', 'must be a function');
  }
  if (options.retryIntervals !== undefined) checkIntervals(options.retryIntervals, 'retryIntervals');
  const { maxConcurrentJobs, deliveryTimeoutMs, rescanIntervalMs, clock } = options;
  if (maxConcurrentJobs !== undefined && (!Number.isInteger(maxConcurrentJobs) || maxConcurrentJobs < 1)) {
    throw new InvalidArgumentError('maxConcurrentJobs', 'must be an integer of at least 1');
  }
  for (const [field, value] of [
    ['deliveryTimeoutMs', deliveryTimeoutMs],
    ['rescanIntervalMs', rescanIntervalMs],
  ] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidArgumentError(field, 'must be a positive number of milliseconds');
    }
  }
  if (clock !== undefined && (typeof clock.now !== 'function' || typeof clock.setTimer !== 'function')) {
    throw new InvalidArgumentError('clock', 'must be a Clock');
  }
}
