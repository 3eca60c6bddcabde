/**
 * The limits table, with Zaqar's defaults (zaqar/conf/transport.py, zaqar/transport/validation.py).
 * Times are in seconds, sizes in bytes. A store or server may be given other values; every
 * layer reads them from one Limits object so they cannot disagree.
 */
export interface Limits {
  /** Largest message post request, in bytes. */
  maxMessagesPostSize: number;
  /** Most messages returned on one page of a listing, and most ids in a get or delete by ids. */
  maxMessagesPerPage: number;
  /** Most messages taken by one claim or one pop. */
  maxMessagesPerClaimOrPop: number;
  maxQueuesPerPage: number;
  maxSubscriptionsPerPage: number;
  maxPoolsPerPage: number;
  maxFlavorsPerPage: number;
  /** Page size when the caller gives none. */
  defaultPageSize: number;
  /** Claim size when the caller gives none. */
  defaultClaimLimit: number;
  minMessageTtl: number;
  maxMessageTtl: number;
  defaultMessageTtl: number;
  minMessageDelay: number;
  maxMessageDelay: number;
  defaultMessageDelay: number;
  minClaimTtl: number;
  maxClaimTtl: number;
  defaultClaimTtl: number;
  minClaimGrace: number;
  maxClaimGrace: number;
  defaultClaimGrace: number;
  minSubscriptionTtl: number;
  /** Zaqar has no upper bound but the date range; this keeps expiry dates representable. */
  maxSubscriptionTtl: number;
  defaultSubscriptionTtl: number;
  maxQueueNameLength: number;
  maxProjectIdLength: number;
  /** Largest queue metadata document, in bytes of JSON. */
  maxQueueMetadataSize: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessagesPostSize: 262_144,
  maxMessagesPerPage: 20,
  maxMessagesPerClaimOrPop: 20,
  maxQueuesPerPage: 20,
  maxSubscriptionsPerPage: 20,
  maxPoolsPerPage: 20,
  maxFlavorsPerPage: 20,
  defaultPageSize: 10,
  defaultClaimLimit: 10,
  minMessageTtl: 60,
  maxMessageTtl: 1_209_600,
  defaultMessageTtl: 3600,
  minMessageDelay: 0,
  maxMessageDelay: 900,
  defaultMessageDelay: 0,
  minClaimTtl: 60,
  maxClaimTtl: 43_200,
  defaultClaimTtl: 300,
  minClaimGrace: 60,
  maxClaimGrace: 43_200,
  defaultClaimGrace: 60,
  minSubscriptionTtl: 60,
  maxSubscriptionTtl: 100 * 365 * 86_400,
  defaultSubscriptionTtl: 3600,
  maxQueueNameLength: 64,
  maxProjectIdLength: 256,
  maxQueueMetadataSize: 65_536,
});

/** Queue and topic names (Zaqar's QUEUE_NAME_REGEX; the code allows '.', the docs do not). */
export const QUEUE_NAME_PATTERN = /^[a-zA-Z0-9_\-.]+$/;

/**
 * Limits that come as a minimum, a default and a maximum, which must stay in that order. The
 * server's configuration checks them too, to name its own settings when they do not.
 */
export const LIMIT_RANGES: readonly (readonly [keyof Limits, keyof Limits, keyof Limits])[] = Object.freeze([
  ['minMessageTtl', 'defaultMessageTtl', 'maxMessageTtl'],
  ['minMessageDelay', 'defaultMessageDelay', 'maxMessageDelay'],
  ['minClaimTtl', 'defaultClaimTtl', 'maxClaimTtl'],
  ['minClaimGrace', 'defaultClaimGrace', 'maxClaimGrace'],
  ['minSubscriptionTtl', 'defaultSubscriptionTtl', 'maxSubscriptionTtl'],
]);

/** Builds a Limits from the defaults and the given overrides, refusing nonsense. */
export function makeLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof Limits, unknown][]) {
    if (!(key in DEFAULT_LIMITS)) throw new RangeError(`unknown limit ${JSON.stringify(key)}`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new RangeError(`limit ${key} must be a non-negative integer, not ${JSON.stringify(value)}`);
    }
    limits[key] = value;
  }
  for (const [min, def, max] of LIMIT_RANGES) {
    if (!(limits[min] <= limits[def] && limits[def] <= limits[max])) {
      throw new RangeError(`limits must keep ${min} <= ${def} <= ${max}`);
    }
  }
  return limits;
}
