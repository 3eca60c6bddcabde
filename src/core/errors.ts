/**
 * Posthorn's typed errors. Every error thrown by Posthorn is a PosthornError with a stable
 * `code` (`PH_...`) that callers and the HTTP layer switch on; messages are for people and
 * may change. The transports map codes to Zaqar statuses in one place (api/shared).
 */

export type ErrorCode =
  | 'PH_INVALID_ARGUMENT'
  | 'PH_LIMIT_EXCEEDED'
  | 'PH_QUOTA_EXCEEDED'
  | 'PH_QUEUE_NOT_FOUND'
  | 'PH_MESSAGE_NOT_FOUND'
  | 'PH_CLAIM_NOT_FOUND'
  | 'PH_SUBSCRIPTION_NOT_FOUND'
  | 'PH_NOT_FOUND'
  | 'PH_SUBSCRIPTION_EXISTS'
  | 'PH_CONFLICT'
  | 'PH_IDEMPOTENCY_KEY_REUSED'
  | 'PH_MESSAGE_CLAIMED'
  | 'PH_MESSAGE_NOT_CLAIMED'
  | 'PH_MESSAGE_NOT_CLAIMED_BY'
  | 'PH_STORAGE_UNAVAILABLE'
  | 'PH_STORAGE_FULL'
  | 'PH_STORAGE_MISCONFIGURED'
  | 'PH_CORRUPT_DATA'
  | 'PH_MESSAGE_DAMAGED'
  | 'PH_ENCRYPTION_KEY_UNAVAILABLE'
  | 'PH_LOCKED'
  | 'PH_NOT_A_SPOOL'
  | 'PH_QUEUE_ERROR'
  | 'PH_CLOSED'
  | 'PH_POOL_CAPABILITIES_MISMATCH'
  | 'PH_POOL_IN_USE'
  | 'PH_USAGE'
  | 'PH_REQUEST_FAILED'
  | 'PH_UNAUTHENTICATED'
  | 'PH_FORBIDDEN'
  | 'PH_IDENTITY_UNAVAILABLE'
  | 'PH_RATE_LIMITED'
  | 'PH_LEASE_LOST';

export interface PosthornErrorOptions {
  cause?: unknown;
}

export abstract class PosthornError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: PosthornErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/**
 * An argument is malformed or out of range; `field` names it (e.g. `ttl`, `messages[3].body`) and
 * `reason` says what is wrong with it ("must be a whole number..."). `options.message` replaces
 * the message `invalid <field>: <reason>` when that is not what a person needs to read: a
 * configuration's error names the file or the environment variable to fix.
 */
export class InvalidArgumentError extends PosthornError {
  readonly code = 'PH_INVALID_ARGUMENT';
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: PosthornErrorOptions & { message?: string },
  ) {
    super(options?.message ?? `invalid ${field}: ${reason}`, options);
  }
}

/**
 * A write would take a project beyond one of its quotas (`quota` is `max_queues`, `max_messages`
 * or `max_bytes`); nothing of it was written. The message is the sentence a client reads.
 */
export class QuotaExceededError extends PosthornError {
  readonly code = 'PH_QUOTA_EXCEEDED';
  constructor(
    readonly project: string,
    readonly quota: 'max_queues' | 'max_messages' | 'max_bytes',
    readonly limit: number,
    readonly held: number,
    readonly adding: number,
    options?: PosthornErrorOptions,
  ) {
    const what = quota === 'max_queues' ? 'queues' : quota === 'max_messages' ? 'messages' : 'bytes of messages';
    const verb = quota === 'max_queues' ? 'this request creates' : 'this post adds';
    super(
      `Project ${JSON.stringify(project)} may hold at most ${limit} ${what} (${quota}); it holds ${held} and ${verb} ${adding}.`,
      options,
    );
  }
}

/**
 * A count or size is beyond a configured limit (page size, post size, metadata size...).
 * `options.message` replaces the default message when a client reads it as it is.
 */
export class LimitExceededError extends PosthornError {
  readonly code = 'PH_LIMIT_EXCEEDED';
  constructor(
    readonly field: string,
    readonly limit: number,
    readonly actual: number,
    options?: PosthornErrorOptions & { message?: string },
  ) {
    super(options?.message ?? `${field} is ${actual}, over the limit of ${limit}`, options);
  }
}

/** Base of every "does not exist" error, so callers can catch them all at once. */
export abstract class NotFoundError extends PosthornError {}

export class QueueNotFoundError extends NotFoundError {
  readonly code = 'PH_QUEUE_NOT_FOUND';
  constructor(
    readonly project: string,
    readonly queue: string,
    options?: PosthornErrorOptions,
  ) {
    super(`queue ${JSON.stringify(queue)} does not exist in project ${JSON.stringify(project)}`, options);
  }
}

export class MessageNotFoundError extends NotFoundError {
  readonly code = 'PH_MESSAGE_NOT_FOUND';
  constructor(
    readonly queue: string,
    readonly messageId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`message ${JSON.stringify(messageId)} does not exist in queue ${JSON.stringify(queue)}`, options);
  }
}

export class ClaimNotFoundError extends NotFoundError {
  readonly code = 'PH_CLAIM_NOT_FOUND';
  constructor(
    readonly queue: string,
    readonly claimId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`claim ${JSON.stringify(claimId)} does not exist or has expired in queue ${JSON.stringify(queue)}`, options);
  }
}

export class SubscriptionNotFoundError extends NotFoundError {
  readonly code = 'PH_SUBSCRIPTION_NOT_FOUND';
  constructor(
    readonly queue: string,
    readonly subscriptionId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`subscription ${JSON.stringify(subscriptionId)} does not exist on queue ${JSON.stringify(queue)}`, options);
  }
}

/** A named thing of another kind (an entry, a pool, a flavor...) does not exist. */
export class ResourceNotFoundError extends NotFoundError {
  readonly code = 'PH_NOT_FOUND';
  constructor(
    readonly kind: string,
    readonly id: string,
    options?: PosthornErrorOptions,
  ) {
    super(`${kind} ${JSON.stringify(id)} does not exist`, options);
  }
}

/** Base of every "already exists / state does not allow it" error. */
export abstract class ConflictError extends PosthornError {}

export class SubscriptionExistsError extends ConflictError {
  readonly code = 'PH_SUBSCRIPTION_EXISTS';
  constructor(
    readonly queue: string,
    readonly subscriber: string,
    readonly subscriptionId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`queue ${JSON.stringify(queue)} already has a subscription for ${JSON.stringify(subscriber)}`, options);
  }
}

/**
 * A post named an idempotency key the queue remembers from a post of other messages (other
 * bodies, ttls or delays). Answering the first post's ids would hide the difference, storing
 * the new one would break the key's promise, so the post is refused and nothing is stored.
 */
export class IdempotencyKeyReusedError extends ConflictError {
  readonly code = 'PH_IDEMPOTENCY_KEY_REUSED';
  constructor(
    readonly queue: string,
    readonly key: string,
    options?: PosthornErrorOptions,
  ) {
    super(
      `idempotency key ${JSON.stringify(key)} of queue ${JSON.stringify(queue)} was used for a post of other messages`,
      options,
    );
  }
}

/** Something already exists, or the current state forbids the change. */
export class ResourceConflictError extends ConflictError {
  readonly code = 'PH_CONFLICT';
  constructor(
    readonly kind: string,
    readonly id: string,
    reason: string,
    options?: PosthornErrorOptions,
  ) {
    super(`${kind} ${JSON.stringify(id)}: ${reason}`, options);
  }
}

/** Deleting a claimed message without its claim id (Zaqar answers 403). */
export class MessageClaimedError extends ConflictError {
  readonly code = 'PH_MESSAGE_CLAIMED';
  constructor(
    readonly messageId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`message ${JSON.stringify(messageId)} is claimed; it cannot be deleted without a valid claim id`, options);
  }
}

/** A claim id was given but the message is not currently claimed (Zaqar answers 400). */
export class MessageNotClaimedError extends ConflictError {
  readonly code = 'PH_MESSAGE_NOT_CLAIMED';
  constructor(
    readonly messageId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`a claim was given, but message ${JSON.stringify(messageId)} is not currently claimed`, options);
  }
}

/** The message is held by another claim than the one given (Zaqar answers 403). */
export class MessageNotClaimedByError extends ConflictError {
  readonly code = 'PH_MESSAGE_NOT_CLAIMED_BY';
  constructor(
    readonly messageId: string,
    readonly claimId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`message ${JSON.stringify(messageId)} is not claimed by ${JSON.stringify(claimId)}`, options);
  }
}

/** The backing store cannot be reached or refused the operation; retrying later may succeed. */
export class StorageUnavailableError extends PosthornError {
  readonly code = 'PH_STORAGE_UNAVAILABLE';
}

/** The store is out of space (a full disk, a size limit); nothing of the failed write is kept. */
export class StorageFullError extends PosthornError {
  readonly code = 'PH_STORAGE_FULL';
}

/**
 * The backing store is configured so that it would break a promise Posthorn makes (a Redis that
 * evicts keys under memory pressure, say); nothing was written. Fix the store's configuration.
 */
export class StorageMisconfiguredError extends PosthornError {
  readonly code = 'PH_STORAGE_MISCONFIGURED';
}

/**
 * A stored message's body failed its checksum when read: the message is set aside (reported in
 * the store's damage report, no longer listed or claimed) and never served as data.
 */
export class DamagedMessageError extends PosthornError {
  readonly code = 'PH_MESSAGE_DAMAGED';
  constructor(
    message: string,
    readonly messageId: string,
    readonly queue: string,
    options?: PosthornErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A message is stored encrypted under a key this process does not hold (`keyId`: the key id its
 * envelope names), or a queue asks for encryption while no key is configured (`keyId` null).
 * The stored bytes are intact: putting the key back (`[encryption] key` or `old_keys`) serves
 * the message again, so this is the server's trouble, never the message's damage.
 */
export class EncryptionKeyUnavailableError extends PosthornError {
  readonly code = 'PH_ENCRYPTION_KEY_UNAVAILABLE';
  constructor(
    message: string,
    readonly keyId: string | null,
    options?: PosthornErrorOptions,
  ) {
    super(message, options);
  }
}

/** Stored data failed its checksum or could not be decoded. */
export class CorruptDataError extends PosthornError {
  readonly code = 'PH_CORRUPT_DATA';
  constructor(
    message: string,
    readonly location: { file?: string; start?: number; end?: number } = {},
    options?: PosthornErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A request carries no credential, or one that is malformed, expired, revoked or unknown.
 * `challenge` is what the transport tells the client about where to get one (HTTP sends it as
 * `WWW-Authenticate`, as keystonemiddleware does: `Keystone uri="…"`).
 */
export class UnauthenticatedError extends PosthornError {
  readonly code = 'PH_UNAUTHENTICATED';
  constructor(
    message: string,
    readonly challenge: string | null = null,
    options?: PosthornErrorOptions,
  ) {
    super(message, options);
  }
}

/** An authenticated caller asks for something its roles or project do not allow. */
export class ForbiddenError extends PosthornError {
  readonly code = 'PH_FORBIDDEN';
}

/**
 * The service that says who a caller is (keystone) cannot be reached or answered wrongly: the
 * caller may well be who they say, so this is "try again" (503), never "unauthorized" (401).
 */
export class IdentityUnavailableError extends PosthornError {
  readonly code = 'PH_IDENTITY_UNAVAILABLE';
}

/** Which of a project's fair-share rates a refused request went over (the setting's name). */
export type RateLimitName = 'requests_per_second' | 'messages_per_second';

/**
 * A project went over its fair share (service/fair-share): its requests, or the messages it
 * posts, arrive faster than its rate allows. Nothing was done; the same request succeeds after
 * `retryAfterMs` (the exact wait, from the caller's clock), which HTTP rounds up to whole seconds
 * in `Retry-After`.
 */
export class RateLimitedError extends PosthornError {
  readonly code = 'PH_RATE_LIMITED';
  /** `retryAfterMs` in whole seconds, rounded up, at least 1: what Retry-After says. */
  readonly retryAfterSeconds: number;
  constructor(
    readonly project: string,
    readonly limit: RateLimitName,
    /** The project's rate: requests, or messages, per second. */
    readonly rate: number,
    /** The most the project may spend at once after being idle. */
    readonly burst: number,
    readonly retryAfterMs: number,
    options?: PosthornErrorOptions,
  ) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const what = limit === 'requests_per_second' ? 'make' : 'post';
    const unit = limit === 'requests_per_second' ? 'requests' : 'messages';
    super(
      `Project ${JSON.stringify(project)} may ${what} ${rate} ${unit} per second (${limit}), ${burst} at once; retry in ${seconds} s.`,
      options,
    );
    this.retryAfterSeconds = seconds;
  }
}

/** A folder (store, spool) is locked by another owner. */
export class LockedError extends PosthornError {
  readonly code = 'PH_LOCKED';
  constructor(
    readonly path: string,
    readonly ownerPid: number | null,
    options?: PosthornErrorOptions,
  ) {
    super(`${path} is locked by ${ownerPid === null ? 'another owner' : `process ${ownerPid}`}`, options);
  }
}

/** A folder is not a spool of the expected kind (missing, not a spool, or other queues than declared). */
export class NotASpoolError extends PosthornError {
  readonly code = 'PH_NOT_A_SPOOL';
  /**
   * What a caller of the library can do about it ("pass createIfMissing to make it"), also at the
   * end of the message; null when nothing. The command line, which has no such option, leaves it out.
   */
  readonly hint: string | null;
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: PosthornErrorOptions & { hint?: string },
  ) {
    super(`${path} is not a usable spool: ${reason}${options?.hint ? ` (${options.hint})` : ''}`, options);
    this.hint = options?.hint ?? null;
  }
}

/** slimta's QueueError: a queue storage operation failed (the cause says why). */
export class QueueError extends PosthornError {
  readonly code = 'PH_QUEUE_ERROR';
}

/** The object was closed; no further operations are accepted. */
export class ClosedError extends PosthornError {
  readonly code = 'PH_CLOSED';
  constructor(
    readonly what: string,
    options?: PosthornErrorOptions,
  ) {
    super(`${what} is closed`, options);
  }
}

/** A pool's capabilities differ from those of the flavor it would join (Zaqar answers 400). */
export class PoolCapabilitiesMismatchError extends ConflictError {
  readonly code = 'PH_POOL_CAPABILITIES_MISMATCH';
  constructor(
    readonly pool: string,
    readonly flavor: string,
    reason: string,
    options?: PosthornErrorOptions,
  ) {
    super(`pool ${JSON.stringify(pool)} cannot join flavor ${JSON.stringify(flavor)}: ${reason}`, options);
  }
}

/** A pool cannot be deleted while a flavor lists it (Zaqar answers 403). */
export class PoolInUseError extends ConflictError {
  readonly code = 'PH_POOL_IN_USE';
  constructor(
    readonly pool: string,
    readonly flavor: string,
    options?: PosthornErrorOptions,
  ) {
    super(`pool ${JSON.stringify(pool)} is used by flavor ${JSON.stringify(flavor)}; it cannot be deleted`, options);
  }
}

/**
 * The command line is wrong: a missing argument, an unknown option, a value an option cannot
 * take. The `posthorn` command exits 2 for it, and 1 for every other error.
 */
export class UsageError extends PosthornError {
  readonly code = 'PH_USAGE';
}

/**
 * A request to a Posthorn server failed: the server could not be reached (`status` null) or
 * answered with an error status; the message carries the server's description.
 */
export class RequestFailedError extends PosthornError {
  readonly code = 'PH_REQUEST_FAILED';
  constructor(
    readonly url: string,
    readonly status: number | null,
    message: string,
    options?: PosthornErrorOptions,
  ) {
    super(message, options);
  }
}

export function isPosthornError(value: unknown): value is PosthornError {
  return value instanceof PosthornError;
}
