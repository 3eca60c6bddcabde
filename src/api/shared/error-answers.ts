import {
  EncryptionKeyUnavailableError,
  type ErrorCode,
  isPosthornError,
  type PosthornError,
  RateLimitedError,
  SubscriptionExistsError,
  UnauthenticatedError,
} from '../../core/index.js';
import { RequestRefusedError, TITLES } from '../../service/index.js';

/**
 * The one place where errors become the answers both transports send: a status, Zaqar's title,
 * a description, and headers (HTTP sends the first three as `{"title", "description"}`, the
 * WebSocket API in its response). A storage failure — or any error nobody expected — is a 503
 * whose description says what could not be done, never a 500 with a stack: clients retry a 503,
 * and the stack goes to the log.
 */

export interface ErrorAnswer {
  status: number;
  title: string;
  description: string;
  headers?: Record<string, string>;
  /** True for answers the server log should show with the error (5xx). */
  log: boolean;
}

/** An answer decided by the transport itself (406, 415, 404 of a bad signature, 405...). */
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

/** What a row changes in the answer its status and title make, for the error at hand. */
type Refinement = Partial<Pick<ErrorAnswer, 'title' | 'description' | 'headers'>>;

/**
 * One code's answer. Without `refine`, the description is the error's message — or, for a 503,
 * what could not be done and a hint to retry, with Retry-After (the message may name a server's
 * internals; the log has it).
 */
interface ErrorRow {
  status: number;
  title: string;
  refine?: Refine;
}

type Refine = (error: PosthornError, action: string) => Refinement;

/** A refinement for the errors of one class (the class of the row's code), typed as that class. */
function refine<E extends PosthornError>(
  kind: abstract new (...args: never[]) => E,
  answer: (error: E, action: string) => Refinement,
): Refine {
  return (error, action) => (error instanceof kind ? answer(error, action) : {});
}

const NOT_FOUND = { status: 404, title: 'Not found' } as const;
const CONFLICT = { status: 409, title: 'Resource conflict' } as const;
const UNAVAILABLE = { status: 503, title: UNAVAILABLE_TITLE } as const;

const FULL_HINT =
  'The disk holding the data is full: reads, claims and deletes still work and free space; try again once space is freed.';

/**
 * Every PosthornError code and its answer. Typed over every ErrorCode, so a new code does not
 * compile until it has a row here: no failure becomes a 503 by having been forgotten. Codes for
 * data the client named (a queue, a message...) that does not exist are 404s; codes of the
 * store's own trouble, and of errors no request can cause, are 503s.
 */
const ERROR_ANSWERS = {
  // Service refusals are InvalidArgumentErrors carrying the sentence and title Zaqar uses.
  PH_INVALID_ARGUMENT: {
    status: 400,
    title: TITLES.api,
    refine: refine(RequestRefusedError, (error) => ({ title: error.title, description: error.description })),
  },
  PH_LIMIT_EXCEEDED: { status: 400, title: TITLES.api },
  // Forbidden, not 429: retrying does not help until something is deleted or the quota raised.
  PH_QUOTA_EXCEEDED: { status: 403, title: 'Quota exceeded' },
  PH_QUEUE_NOT_FOUND: NOT_FOUND,
  PH_MESSAGE_NOT_FOUND: NOT_FOUND,
  PH_CLAIM_NOT_FOUND: NOT_FOUND,
  PH_SUBSCRIPTION_NOT_FOUND: NOT_FOUND,
  PH_NOT_FOUND: NOT_FOUND,
  PH_SUBSCRIPTION_EXISTS: {
    ...CONFLICT,
    refine: refine(SubscriptionExistsError, (error) => ({
      description: `A subscription for ${error.subscriber} exists already: subscriptions are unique by project, queue and subscriber.`,
    })),
  },
  PH_CONFLICT: CONFLICT,
  // 422, as the IETF httpapi Idempotency-Key draft says for a key reused with another payload.
  PH_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused' },
  // The refusals of a message delete, in the sentences clients of Zaqar know.
  PH_MESSAGE_CLAIMED: {
    status: 403,
    title: TITLES.unableToDelete,
    refine: () => ({ description: 'This message is claimed; it cannot be deleted without a valid claim ID.' }),
  },
  PH_MESSAGE_NOT_CLAIMED: {
    status: 400,
    title: TITLES.unableToDelete,
    refine: () => ({ description: 'A claim was specified, but the message is not currently claimed.' }),
  },
  PH_MESSAGE_NOT_CLAIMED_BY: {
    status: 403,
    title: TITLES.unableToDelete,
    refine: () => ({
      description: 'This message is claimed by another claim; it cannot be deleted without a valid claim ID.',
    }),
  },
  PH_STORAGE_UNAVAILABLE: UNAVAILABLE,
  // Retrying helps once space is freed (deletes, claims, expiry), so Retry-After stays.
  PH_STORAGE_FULL: { ...UNAVAILABLE, refine: (_error, action) => ({ description: `${action} ${FULL_HINT}` }) },
  PH_STORAGE_MISCONFIGURED: UNAVAILABLE,
  PH_CORRUPT_DATA: UNAVAILABLE,
  // Gone: the message existed but its stored body is damaged; retrying cannot bring it back.
  PH_MESSAGE_DAMAGED: { status: 410, title: 'Message damaged' },
  // The message is intact but this server lacks its key: the operator's to fix, and a retry
  // succeeds once the key is back in old_keys. Not 410 (nothing is gone), not a 4xx (not the
  // client's doing). The description says which key: the operator needs it, and a key id
  // reveals nothing secret.
  PH_ENCRYPTION_KEY_UNAVAILABLE: {
    ...UNAVAILABLE,
    refine: refine(EncryptionKeyUnavailableError, (error, action) => ({ description: `${action} ${error.message}.` })),
  },
  PH_LOCKED: UNAVAILABLE,
  PH_NOT_A_SPOOL: UNAVAILABLE,
  PH_QUEUE_ERROR: UNAVAILABLE,
  PH_CLOSED: UNAVAILABLE,
  PH_POOL_CAPABILITIES_MISMATCH: { status: 400, title: 'Unable to create pool' },
  PH_POOL_IN_USE: { status: 403, title: 'Unable to delete' },
  // The command line's and the client's own errors: a request never causes them.
  PH_USAGE: UNAVAILABLE,
  PH_REQUEST_FAILED: UNAVAILABLE,
  PH_LEASE_LOST: UNAVAILABLE,
  // A 401 says how to authenticate (RFC 9110; keystonemiddleware sends `Keystone uri="..."`).
  PH_UNAUTHENTICATED: {
    status: 401,
    title: 'Unauthorized',
    refine: refine(UnauthenticatedError, (error) =>
      error.challenge === null ? {} : { headers: { 'www-authenticate': error.challenge } },
    ),
  },
  PH_FORBIDDEN: { status: 403, title: 'Forbidden' },
  PH_IDENTITY_UNAVAILABLE: UNAVAILABLE,
  // RFC 6585: a 429 may say when to come back; the wait is exact, rounded up to a whole second.
  PH_RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    refine: refine(RateLimitedError, (error) => ({ headers: { 'retry-after': String(error.retryAfterSeconds) } })),
  },
} satisfies Record<ErrorCode, ErrorRow>;

function posthornAnswer(error: PosthornError, action: string): ErrorAnswer {
  const row: ErrorRow = ERROR_ANSWERS[error.code];
  const unavailable = row.status === 503;
  const answer: ErrorAnswer = {
    status: row.status,
    title: row.title,
    description: unavailable ? `${action} ${RETRY_HINT}` : error.message,
    ...(unavailable ? { headers: RETRY_AFTER } : {}),
    log: row.status >= 500,
  };
  return { ...answer, ...row.refine?.(error, action) };
}

/**
 * Turns any error into the answer to send. `action` says what the request was doing
 * ("Messages could not be posted.") for 503 descriptions.
 */
export function answerFor(error: unknown, action: string): ErrorAnswer {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      title: error.title,
      description: error.description,
      ...(error.headers ? { headers: error.headers } : {}),
      log: error.status >= 500,
    };
  }
  if (isPosthornError(error)) return posthornAnswer(error, action);
  return {
    status: 503,
    title: UNAVAILABLE_TITLE,
    description: `${action} ${RETRY_HINT}`,
    headers: RETRY_AFTER,
    log: true,
  };
}
