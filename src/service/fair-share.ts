import { type Clock, RateLimitedError, type RateLimitName, systemClock } from '../core/index.js';

/** A token bucket's terms: it refills at `perSecond` tokens a second and holds at most `burst`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** A project's two buckets; null (or absent in the defaults) is unlimited, and costs nothing. */
export interface FairShareLimits {
  requests?: RateLimit | null;
  messages?: RateLimit | null;
}

export interface FairShareOptions {
  /** Every project's limits unless it has its own. */
  defaults?: FairShareLimits;
  /**
   * Projects with limits of their own. A kind a project's entry leaves out (undefined) is the
   * default's; null makes it unlimited for that project.
   */
  projects?: ReadonlyMap<string, FairShareLimits> | Readonly<Record<string, FairShareLimits>>;
  clock?: Clock;
  /**
   * How long a refusal is held before it is answered (ms; each is held a random time between
   * half of it and all of it); default 1000, 0 answers at once.
   * Never longer than the Retry-After the refusal would have said (whole seconds, at least 1).
   * See FairShare for why.
   */
  refusalDelayMs?: number;
  /** Numbers in [0, 1) that spread held refusals (Math.random by default; tests pin it). */
  random?: () => number;
}

export const DEFAULT_REFUSAL_DELAY_MS = 1000;

/** How often (in the clock's time) buckets that have filled up again are forgotten. */
const SWEEP_INTERVAL_MS = 10_000;
/** Waits shorter than this are float rounding (a rate like 3/s has an inexact interval), not a refusal. */
const ROUNDING_MS = 1e-6;

/**
 * One kind of bucket for every project, kept as GCRA's "theoretical arrival time" (the instant
 * the bucket will be full again) rather than a token count: one number per project, no timer,
 * arithmetic on the clock's milliseconds (exact when a token's interval is a whole number of
 * them, as in the tests; else within ROUNDING_MS). A bucket whose instant has passed is full,
 * the same as a bucket never used, so forgetting it loses nothing: that is how idle projects'
 * state is dropped, and memory stays bounded by the projects active within one refill time.
 */
class BucketSet {
  private readonly fullAt = new Map<string, number>();

  constructor(readonly name: RateLimitName) {}

  get size(): number {
    return this.fullAt.size;
  }

  /**
   * Spends `cost` tokens of `project`'s bucket at `now` and returns 0, or returns the time (ms)
   * until the same call would succeed, spending nothing.
   *
   * A cost larger than the burst (a batch of messages bigger than the bucket) could never fit,
   * so refusing it would starve that client for good. It is admitted when the bucket is full,
   * and leaves it in debt: the following calls wait until the batch has been paid for at the
   * rate. The average rate holds; only the burst is exceeded, once, by that one batch.
   */
  take(project: string, cost: number, limit: RateLimit, now: number): number {
    const interval = 1000 / limit.perSecond;
    const tolerance = limit.burst * interval;
    const fullAt = Math.max(this.fullAt.get(project) ?? now, now);
    const next = fullAt + cost * interval;
    // Past the burst, wait for a full bucket; otherwise for room for `cost` tokens.
    const waitMs = cost > limit.burst ? fullAt - now : next - tolerance - now;
    if (waitMs > ROUNDING_MS) return waitMs;
    this.fullAt.set(project, next);
    return 0;
  }

  /** Forgets the buckets that are full again at `now`. */
  sweep(now: number): void {
    for (const [project, fullAt] of this.fullAt) if (fullAt <= now) this.fullAt.delete(project);
  }
}

/**
 * Fair share between projects: a token bucket per project for the requests it makes and one for
 * the messages it posts, so that one tenant's flood is refused (429, with the wait) instead of
 * queueing up in front of every other tenant's requests. Both transports charge the same buckets
 * (one request per HTTP request or WebSocket frame, one message per message posted).
 *
 * A refusal is held before it is answered (between half and all of `refusalDelayMs`, never longer
 * than the Retry-After it would have said, which is at least a second even when the next token is
 * 5 ms away). A refused request still costs the server its parsing, its answer, and for a refused
 * body a new connection; a client that ignores Retry-After and asks again at once turns the
 * server into a factory of 429s and starves the other tenants as surely as if it were admitted
 * (bench:tenants: answered at once, a flood of refusals put tenant B's p99 at 3.5-6x its p99
 * alone, in most runs worse than no limits at all). Held, a client is throttled by its own
 * concurrency: N connections make at most N requests per half delay, while a client that honours
 * Retry-After is held no longer than it was told to wait anyway. Each held refusal is one timer,
 * and its connection is one the connection limit already counts.
 *
 * The buckets live in this process: behind several `posthorn serve` processes (workers, or
 * servers sharing a pool) each process admits a project's full rate.
 */
export class FairShare {
  private readonly clock: Clock;
  private readonly defaults: { requests: RateLimit | null; messages: RateLimit | null };
  private readonly projects: ReadonlyMap<string, FairShareLimits>;
  private readonly requests = new BucketSet('requests_per_second');
  private readonly messages = new BucketSet('messages_per_second');
  private nextSweep: number;
  private readonly refusalDelayMs: number;
  private readonly random: () => number;

  constructor(options: FairShareOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.defaults = {
      requests: checked(options.defaults?.requests, 'requests'),
      messages: checked(options.defaults?.messages, 'messages'),
    };
    const projects = options.projects ?? new Map<string, FairShareLimits>();
    this.projects = new Map(projects instanceof Map ? projects : Object.entries(projects));
    for (const [project, limits] of this.projects) {
      checked(limits.requests, `requests of project ${JSON.stringify(project)}`);
      checked(limits.messages, `messages of project ${JSON.stringify(project)}`);
    }
    this.nextSweep = this.clock.now() + SWEEP_INTERVAL_MS;
    this.refusalDelayMs = options.refusalDelayMs ?? DEFAULT_REFUSAL_DELAY_MS;
    this.random = options.random ?? Math.random;
    if (!(this.refusalDelayMs >= 0 && Number.isFinite(this.refusalDelayMs))) {
      throw new RangeError(`the refusal delay must be 0 or more ms, not ${this.refusalDelayMs}`);
    }
  }

  /** The limits `project` runs under (null: unlimited). */
  limitsOf(project: string): { requests: RateLimit | null; messages: RateLimit | null } {
    const own = this.projects.get(project);
    if (own === undefined) return this.defaults;
    return {
      requests: own.requests === undefined ? this.defaults.requests : own.requests,
      messages: own.messages === undefined ? this.defaults.messages : own.messages,
    };
  }

  /**
   * Charges one request to `project`: undefined when admitted (nothing to wait for, so the hot
   * path allocates nothing); when its bucket is empty, a promise rejected with RateLimitedError
   * once the refusal has been held (see above).
   */
  admitRequest(project: string): Promise<never> | undefined {
    const limit = this.limitsOf(project).requests;
    if (limit === null) return undefined;
    return this.refusedAfter(project, this.requests, limit, this.requests.take(project, 1, limit, this.now()));
  }

  /**
   * Charges `count` posted messages to `project`, as admitRequest does (a refusal charges
   * nothing). A batch larger than the burst is admitted only into a full bucket.
   */
  admitMessages(project: string, count: number): Promise<never> | undefined {
    if (count <= 0) return undefined;
    const limit = this.limitsOf(project).messages;
    if (limit === null) return undefined;
    return this.refusedAfter(project, this.messages, limit, this.messages.take(project, count, limit, this.now()));
  }

  private refusedAfter(project: string, set: BucketSet, limit: RateLimit, waitMs: number): Promise<never> | undefined {
    if (waitMs === 0) return undefined;
    // Held up to the whole seconds Retry-After would say: a wait of 5 ms is still "retry in 1 s",
    // and capping the hold at 5 ms would let a flood of refusals through at full speed.
    const most = Math.min(this.refusalDelayMs, Math.max(1, Math.ceil(waitMs / 1000)) * 1000);
    // Spread over its second half: a flood's connections refused together would otherwise all
    // come back together, a burst every delay that lands on other tenants' requests (measured:
    // B's p99 under the flood 1.18-1.53x alone without the spread, 0.89-1.15x with it).
    const hold = most === 0 ? 0 : most * (0.5 + 0.5 * this.random());
    // Made when answered, so its Retry-After is what is left of the wait then (at least 1 s).
    const refusal = () =>
      new RateLimitedError(project, set.name, limit.perSecond, limit.burst, Math.max(0, waitMs - hold));
    if (hold === 0) return Promise.reject(refusal());
    return new Promise<never>((_, reject) => this.clock.setTimer(hold, () => reject(refusal())));
  }

  /** How many projects' buckets are remembered (those not full again yet), of both kinds. */
  get trackedBuckets(): number {
    this.sweep(this.clock.now());
    return this.requests.size + this.messages.size;
  }

  private now(): number {
    const now = this.clock.now();
    if (now >= this.nextSweep) this.sweep(now);
    return now;
  }

  private sweep(now: number): void {
    this.requests.sweep(now);
    this.messages.sweep(now);
    this.nextSweep = now + SWEEP_INTERVAL_MS;
  }
}

function checked(limit: RateLimit | null | undefined, what: string): RateLimit | null {
  if (limit === undefined || limit === null) return null;
  if (!(Number.isFinite(limit.perSecond) && limit.perSecond > 0)) {
    throw new RangeError(`the rate of ${what} must be a positive number, not ${limit.perSecond}`);
  }
  if (!(Number.isFinite(limit.burst) && limit.burst >= 1)) {
    throw new RangeError(`the burst of ${what} must be at least 1, not ${limit.burst}`);
  }
  return limit;
}
