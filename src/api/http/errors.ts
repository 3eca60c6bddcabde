import {
  type ErrorCode,
  InvalidArgumentError,
  isPosthornError,
  type Logger,
  type LogThrottle,
  type PosthornError,
  RateLimitedError,
  type SubscriptionExistsError,
  UnauthenticatedError,
} from '../../core/index.js';
import { RequestRefusedError, TITLES } from '../../service/index.js';

/**
 * The one place where errors become HTTP answers: a status, Zaqar's title, a description, and
 * headers. The body is always `{"title": ..., "description": ...}`. A storage failure — or any
 * error nobody expected — is a 503 whose description says what could not be done, never a 500
 * with a stack: clients retry a 503, and the stack goes to the log.
 */

export interface HttpAnswer {
  status: number;
  title: string;
  description: string;
  headers?: Record<string, string>;
  /** True for answers the server log should show with the error (5xx). */
  log: boolean;
}

/** An answer decided by the HTTP layer itself (406, 415, 404 of a bad signature, 405...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly description: string,
    readonly headers?: Record<string, string>,
  ) {
    super(description);
    this.name = 'HttpError';
  }
}

export const UNAVAILABLE_TITLE = 'Service temporarily unavailable';
export const RETRY_HINT = 'Please try again in a few seconds.';
export const RETRY_AFTER = { 'retry-after': '30' };
const UNAVAILABLE = { status: 503, title: UNAVAILABLE_TITLE };

/**
 * PosthornError codes and their answers. Codes for data the client named (a queue, a message...)
 * that does not exist are 404s; codes of the store's own trouble are 503s. A code not listed here
 * (a new one) is a 503 too: the safe answer for a failure nobody mapped is "try again".
 */
export const ERROR_STATUS: Readonly<Partial<Record<ErrorCode, { status: number; title: string }>>> = Object.freeze({
  PH_INVALID_ARGUMENT: { status: 400, title: TITLES.api },
  PH_LIMIT_EXCEEDED: { status: 400, title: TITLES.api },
  // Forbidden, not 429: retrying does not help until something is deleted or the quota raised.
  PH_QUOTA_EXCEEDED: { status: 403, title: 'Quota exceeded' },
  PH_QUEUE_NOT_FOUND: { status: 404, title: 'Not found' },
  PH_MESSAGE_NOT_FOUND: { status: 404, title: 'Not found' },
  PH_CLAIM_NOT_FOUND: { status: 404, title: 'Not found' },
  PH_SUBSCRIPTION_NOT_FOUND: { status: 404, title: 'Not found' },
  PH_NOT_FOUND: { status: 404, title: 'Not found' },
  PH_SUBSCRIPTION_EXISTS: { status: 409, title: 'Resource conflict' },
  PH_CONFLICT: { status: 409, title: 'Resource conflict' },
  // 422, as the IETF httpapi Idempotency-Key draft says for a key reused with another payload.
  PH_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused' },
  PH_MESSAGE_CLAIMED: { status: 403, title: TITLES.unableToDelete },
  PH_MESSAGE_NOT_CLAIMED: { status: 400, title: TITLES.unableToDelete },
  PH_MESSAGE_NOT_CLAIMED_BY: { status: 403, title: TITLES.unableToDelete },
  PH_STORAGE_UNAVAILABLE: { status: 503, title: UNAVAILABLE_TITLE },
  PH_STORAGE_FULL: { status: 503, title: UNAVAILABLE_TITLE },
  PH_STORAGE_MISCONFIGURED: { status: 503, title: UNAVAILABLE_TITLE },
  PH_NOT_A_SPOOL: { status: 503, title: UNAVAILABLE_TITLE },
  PH_QUEUE_ERROR: { status: 503, title: UNAVAILABLE_TITLE },
  PH_CORRUPT_DATA: { status: 503, title: UNAVAILABLE_TITLE },
  // Gone: the message existed but its stored body is damaged; retrying cannot bring it back.
  PH_MESSAGE_DAMAGED: { status: 410, title: 'Message damaged' },
  // The message is intact but this server lacks its key: the operator's to fix, and a retry
  // succeeds once the key is back in old_keys. Not 410 (nothing is gone), not a 4xx (not the client's doing).
  PH_ENCRYPTION_KEY_UNAVAILABLE: { status: 503, title: UNAVAILABLE_TITLE },
  PH_LOCKED: { status: 503, title: UNAVAILABLE_TITLE },
  PH_CLOSED: { status: 503, title: UNAVAILABLE_TITLE },
  PH_POOL_CAPABILITIES_MISMATCH: { status: 400, title: 'Unable to create pool' },
  PH_POOL_IN_USE: { status: 403, title: 'Unable to delete' },
  PH_UNAUTHENTICATED: { status: 401, title: 'Unauthorized' },
  PH_FORBIDDEN: { status: 403, title: 'Forbidden' },
  PH_IDENTITY_UNAVAILABLE: { status: 503, title: UNAVAILABLE_TITLE },
  PH_RATE_LIMITED: { status: 429, title: 'Too many requests' },
});

/** Descriptions clients of Zaqar know for the refusals of a message delete. */
function posthornDescription(error: PosthornError): string {
  switch (error.code) {
    case 'PH_MESSAGE_CLAIMED':
      return 'This message is claimed; it cannot be deleted without a valid claim ID.';
    case 'PH_MESSAGE_NOT_CLAIMED':
      return 'A claim was specified, but the message is not currently claimed.';
    case 'PH_MESSAGE_NOT_CLAIMED_BY':
      return 'This message is claimed by another claim; it cannot be deleted without a valid claim ID.';
    case 'PH_SUBSCRIPTION_EXISTS':
      return `A subscription for ${(error as SubscriptionExistsError).subscriber} exists already: subscriptions are unique by project, queue and subscriber.`;
    default:
      return error.message;
  }
}

/** Fastify's own errors (body too large, bad Content-Length, bad URL...) in Zaqar's terms. */
function fastifyAnswer(error: Error & { code?: string; statusCode?: number }, sizeLimit: SizeLimitText | undefined) {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 400,
        title: sizeLimit?.title ?? TITLES.api,
        description: sizeLimit?.description ?? 'The request body is too large.',
        log: false,
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        title: TITLES.body,
        description: 'The request body does not have the length its Content-Length header says.',
        log: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 400,
        title: 'Invalid Content-Type',
        description: 'The Content-Type header is malformed.',
        log: false,
      };
    default:
      if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
        return { status: error.statusCode, title: TITLES.api, description: error.message, log: false };
      }
      return undefined;
  }
}

/** What a route says when its body is over the limit (set in the route's config). */
export interface SizeLimitText {
  title: string;
  description: string;
}

const FULL_HINT =
  'The disk holding the data is full: reads, claims and deletes still work and free space; try again once space is freed.';

/**
 * Turns any error into the answer to send. `action` says what the route was doing
 * ("Messages could not be posted.") for 503 descriptions.
 */
export function answerFor(error: unknown, action: string, sizeLimit?: SizeLimitText): HttpAnswer {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      title: error.title,
      description: error.description,
      ...(error.headers ? { headers: error.headers } : {}),
      log: error.status >= 500,
    };
  }
  if (error instanceof RequestRefusedError) {
    return { status: 400, title: error.title, description: error.description, log: false };
  }
  if (isPosthornError(error)) {
    const { status, title } = ERROR_STATUS[error.code] ?? UNAVAILABLE;
    if (error.code === 'PH_STORAGE_FULL') {
      // Retrying helps once space is freed (deletes, claims, expiry), so Retry-After stays.
      return { status, title, description: `${action} ${FULL_HINT}`, headers: RETRY_AFTER, log: true };
    }
    if (error.code === 'PH_ENCRYPTION_KEY_UNAVAILABLE') {
      // Say which key: the operator needs it to fix this, and a key id reveals nothing secret.
      return { status, title, description: `${action} ${error.message}.`, headers: RETRY_AFTER, log: true };
    }
    if (status === 503) {
      return { status, title, description: `${action} ${RETRY_HINT}`, headers: RETRY_AFTER, log: true };
    }
    if (error instanceof RateLimitedError) {
      // RFC 6585: a 429 may say when to come back; the wait is exact, rounded up to a whole second.
      const headers = { 'retry-after': String(error.retryAfterSeconds) };
      return { status, title, description: error.message, headers, log: false };
    }
    const description = error instanceof InvalidArgumentError ? error.message : posthornDescription(error);
    // A 401 says how to authenticate (RFC 9110; keystonemiddleware sends `Keystone uri="..."`).
    if (error instanceof UnauthenticatedError && error.challenge !== null) {
      return { status, title, description, headers: { 'www-authenticate': error.challenge }, log: false };
    }
    return { status, title, description, log: false };
  }
  if (error instanceof Error) {
    const known = fastifyAnswer(error, sizeLimit);
    if (known) return known;
  }
  return {
    status: 503,
    title: UNAVAILABLE_TITLE,
    description: `${action} ${RETRY_HINT}`,
    headers: RETRY_AFTER,
    log: true,
  };
}

/** The JSON body of an answer. */
export function answerBody(answer: HttpAnswer): string {
  return JSON.stringify({ title: answer.title, description: answer.description });
}

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
