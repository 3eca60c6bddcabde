import {
  ClaimNotFoundError,
  DamagedMessageError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  type PosthornError,
  QueueNotFoundError,
  QuotaExceededError,
  RateLimitedError,
  type RateLimitName,
  RequestFailedError,
  ResourceConflictError,
  ResourceNotFoundError,
  StorageUnavailableError,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
  UnauthenticatedError,
} from '../core/errors.js';

/**
 * Zaqar error answers back into the typed errors the library throws, so code that catches
 * `QueueNotFoundError` from an embedded store catches it from a server too. Zaqar bodies say
 * little (`{"title","description"}`), so the class comes from the status, then the description
 * where Posthorn's server writes a known sentence, then the route the request was on (a 404 of
 * `.../claims/{id}` is that claim). Every mapped error keeps the answer (`serverAnswerOf`).
 */

/** The server's answer an error came from. */
export interface ServerAnswer {
  status: number;
  title: string;
  description: string;
  method: string;
  url: string;
}

/** What the request was about: the route's names, used to say what a 404 or 410 is. */
export interface RouteContext {
  project: string;
  /** The queue (or topic) of the route. */
  queue?: string;
  messageId?: string;
  claimId?: string;
  subscriptionId?: string;
  /** The Idempotency-Key the request carried. */
  idempotencyKey?: string;
}

const ANSWER = Symbol('posthorn.serverAnswer');

/** The server's answer a client error was made from; undefined for errors of other origin. */
export function serverAnswerOf(error: unknown): ServerAnswer | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [ANSWER]?: ServerAnswer })[ANSWER];
}

/** Reads a Zaqar error body; anything else becomes the status's own words. */
export function parseErrorBody(status: number, text: string): { title: string; description: string } {
  try {
    const doc = JSON.parse(text) as { title?: unknown; description?: unknown };
    if (doc !== null && typeof doc === 'object') {
      return {
        title: typeof doc.title === 'string' ? doc.title : `HTTP ${status}`,
        description: typeof doc.description === 'string' ? doc.description : text,
      };
    }
  } catch {
    // Not JSON: a proxy's page, or nothing at all.
  }
  return { title: `HTTP ${status}`, description: text === '' ? `the server answered ${status}` : text };
}

const QUOTA =
  /^Project "(.*)" may hold at most (\d+) .* \((max_queues|max_messages|max_bytes)\); it holds (\d+) and (?:this request creates|this post adds) (\d+)\./;
const RATE =
  /^Project "(.*)" may (?:make|post) (\d+(?:\.\d+)?) \w+ per second \((requests_per_second|messages_per_second)\), (\d+) at once/;

function notFound(answer: ServerAnswer, route: RouteContext): PosthornError {
  const d = answer.description;
  const queue = route.queue ?? '';
  // Posthorn's own sentences (core's error messages) name the kind; another Zaqar's are read by the route.
  if (/^queue ".*" does not exist/.test(d)) return new QueueNotFoundError(route.project, queue);
  if (/^message ".*" does not exist/.test(d)) return new MessageNotFoundError(queue, route.messageId ?? '');
  if (/^claim ".*" does not exist/.test(d)) return new ClaimNotFoundError(queue, route.claimId ?? '');
  if (/^subscription ".*" does not exist/.test(d))
    return new SubscriptionNotFoundError(queue, route.subscriptionId ?? '');
  if (/pre-signed URL/.test(d)) return new ResourceNotFoundError('signed URL', answer.url);
  if (route.claimId !== undefined) return new ClaimNotFoundError(queue, route.claimId);
  if (route.subscriptionId !== undefined) return new SubscriptionNotFoundError(queue, route.subscriptionId);
  if (route.messageId !== undefined) return new MessageNotFoundError(queue, route.messageId);
  if (/^No messages with ids/.test(d)) return new MessageNotFoundError(queue, '');
  if (route.queue !== undefined) return new QueueNotFoundError(route.project, queue);
  return new ResourceNotFoundError('resource', answer.url);
}

function forbidden(answer: ServerAnswer, route: RouteContext): PosthornError {
  const d = answer.description;
  const quota = QUOTA.exec(d);
  if (quota) {
    const [, project = '', limit, name, held, adding] = quota;
    return new QuotaExceededError(
      project,
      name as 'max_queues' | 'max_messages' | 'max_bytes',
      Number(limit),
      Number(held),
      Number(adding),
    );
  }
  if (route.messageId !== undefined && /claimed by another claim/.test(d))
    return new MessageNotClaimedByError(route.messageId, route.claimId ?? '');
  if (route.messageId !== undefined && /is claimed/.test(d)) return new MessageClaimedError(route.messageId);
  return new ForbiddenError(d);
}

function badRequest(answer: ServerAnswer, route: RouteContext): PosthornError {
  const d = answer.description;
  if (route.messageId !== undefined && answer.title === 'Unable to delete') {
    if (/not currently claimed/.test(d)) return new MessageNotClaimedError(route.messageId);
    if (/claim does not exist or has expired/.test(d))
      return new ClaimNotFoundError(route.queue ?? '', route.claimId ?? '');
  }
  return new InvalidArgumentError('request', d, { message: d });
}

function conflict(answer: ServerAnswer, route: RouteContext): PosthornError {
  const exists = /^A subscription for (.*) exists already/.exec(answer.description);
  if (exists) return new SubscriptionExistsError(route.queue ?? '', exists[1] ?? '', '');
  return new ResourceConflictError(
    route.queue === undefined ? 'resource' : 'queue',
    route.queue ?? answer.url,
    answer.description,
  );
}

function rateLimited(answer: ServerAnswer, route: RouteContext, retryAfter: string | undefined): PosthornError {
  const seconds = Number(retryAfter);
  const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
  const rate = RATE.exec(answer.description);
  return new RateLimitedError(
    rate?.[1] ?? route.project,
    (rate?.[3] as RateLimitName | undefined) ?? 'requests_per_second',
    Number(rate?.[2] ?? 0),
    Number(rate?.[4] ?? 0),
    retryAfterMs,
  );
}

/** The typed error of an error answer. */
export function errorFromAnswer(
  answer: ServerAnswer,
  route: RouteContext,
  headers: { retryAfter?: string; challenge?: string } = {},
): PosthornError {
  let error: PosthornError;
  switch (answer.status) {
    case 400:
      error = badRequest(answer, route);
      break;
    case 401:
      error = new UnauthenticatedError(answer.description, headers.challenge ?? null);
      break;
    case 403:
      error = forbidden(answer, route);
      break;
    case 404:
      error = notFound(answer, route);
      break;
    case 409:
      error = conflict(answer, route);
      break;
    case 422:
      // Posthorn's "Idempotency key reused": the key came with another request than the first.
      error = new IdempotencyKeyReusedError(route.queue ?? '', route.idempotencyKey ?? '', {
        cause: answer.description,
      });
      break;
    case 410:
      error = new DamagedMessageError(answer.description, route.messageId ?? '', route.queue ?? '');
      break;
    case 429:
      error = rateLimited(answer, route, headers.retryAfter);
      break;
    case 503:
      error = new StorageUnavailableError(answer.description);
      break;
    default:
      error = new RequestFailedError(answer.url, answer.status, `${answer.title}: ${answer.description}`);
  }
  return withAnswer(error, answer);
}

/** Puts the answer on the error: `status`, `title` and `description` as properties, and `serverAnswerOf`. */
export function withAnswer<E extends PosthornError>(error: E, answer: ServerAnswer): E & ServerAnswerFields {
  Object.defineProperty(error, ANSWER, { value: answer, enumerable: false });
  return Object.assign(error, { status: answer.status, title: answer.title, description: answer.description });
}

/** The fields every error made from an answer carries. */
export interface ServerAnswerFields {
  status: number;
  title: string;
  description: string;
}
