import { Agent, type Dispatcher } from 'undici';
import { RequestFailedError } from '../core/errors.js';
import type { RequestAuth } from './auth.js';
import { errorFromAnswer, parseErrorBody, type RouteContext } from './error-mapping.js';

/**
 * The one way the client talks HTTP: undici with keep-alive connections, Zaqar's headers on every
 * request, error answers turned into typed errors, and retries where a retry cannot do a thing
 * twice. A request is retried on a 503 or a connection error only when it is idempotent — GET,
 * HEAD, PUT, DELETE, and a POST that carries an `Idempotency-Key` (the server answers a repeat
 * with the first result) — with exponential backoff and full jitter, so clients that a restart
 * cut off together do not come back together.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RetryOptions {
  /** Retries after the first try (default 6). */
  retries?: number;
  /** The first backoff's ceiling in ms (default 100); each retry doubles it. */
  minDelayMs?: number;
  /** The most one backoff waits, in ms (default 5000). */
  maxDelayMs?: number;
  /** [0, 1) — the jitter's source (tests pass a fixed one). */
  random?: () => number;
}

export interface TransportOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8888. */
  url: string;
  clientId: string;
  auth: RequestAuth;
  retry?: RetryOptions;
  /** Sent as `X-Admin-Token` (the server's admin API and private routes such as health). */
  adminToken?: string;
  /** An undici dispatcher to use instead of the transport's own keep-alive Agent (closed by its owner). */
  dispatcher?: Dispatcher;
  /** Ms a request may wait for the answer's headers (default 30 000). */
  headersTimeoutMs?: number;
}

export interface TransportRequest {
  method: HttpMethod;
  /** The path and query, e.g. /v2/queues/q/messages?limit=5. */
  path: string;
  body?: unknown;
  /** Sent instead of application/json (JSON Patch's media type). */
  contentType?: string;
  headers?: Record<string, string>;
  route: RouteContext;
  /** Answers that are not errors for this call (404 of a renew: false, not a throw). */
  accept?: readonly number[];
  /**
   * Whether a retry cannot do it twice, when the method alone says wrong: a pop is a DELETE that
   * takes other messages each time (false); a purge or a claim renewal does the same however often (true).
   */
  idempotent?: boolean;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; undefined when empty. */
  json: unknown;
}

/** Connection failures a retry may cure: nothing reached the server, or the answer was cut off. */
const RETRIABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

function connectionFailure(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRIABLE_CODES.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some(connectionFailure)) return true;
  }
  return false;
}

function isIdempotent(method: HttpMethod, headers: Record<string, string>): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'PUT' || method === 'DELETE') return true;
  return method === 'POST' && headers['idempotency-key'] !== undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class HttpTransport {
  readonly baseUrl: URL;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly retries: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  /** Retries made so far, of every request (tests and metrics read it). */
  retriesMade = 0;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = new URL(options.url);
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        keepAliveTimeout: 10_000,
        headersTimeout: options.headersTimeoutMs ?? 30_000,
        connections: 32,
      });
    this.retries = options.retry?.retries ?? 6;
    this.minDelayMs = options.retry?.minDelayMs ?? 100;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 5000;
    this.random = options.retry?.random ?? Math.random;
  }

  /** The dispatcher, for the keystone exchange (same keep-alive pool). */
  get agent(): Dispatcher {
    return this.dispatcher;
  }

  /** The wait before retry number `attempt` (0-based): full jitter under a doubling ceiling. */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** attempt);
    return Math.floor(this.random() * ceiling);
  }

  async request(call: TransportRequest): Promise<TransportResponse> {
    const base: Record<string, string> = {
      accept: 'application/json',
      'client-id': this.options.clientId,
      ...(this.options.adminToken === undefined ? {} : { 'x-admin-token': this.options.adminToken }),
      ...call.headers,
    };
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    if (body !== undefined) base['content-type'] = call.contentType ?? 'application/json';
    const retriable = call.idempotent ?? isIdempotent(call.method, base);
    const url = new URL(call.path, this.baseUrl);
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const credential = await this.options.auth.headers();
      const headers = { ...base, ...credential };
      let answer: Dispatcher.ResponseData;
      try {
        answer = await this.dispatcher.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: call.method,
          headers,
          ...(body === undefined ? {} : { body }),
        });
      } catch (cause) {
        if (retriable && attempt < this.retries && connectionFailure(cause)) {
          await this.pause(attempt);
          continue;
        }
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new RequestFailedError(url.href, null, `${call.method} ${url.href} failed: ${reason}`, { cause });
      }
      let text: string;
      try {
        text = await answer.body.text();
      } catch (cause) {
        // The answer was cut off: the request may or may not have been done.
        if (retriable && attempt < this.retries) {
          await this.pause(attempt);
          continue;
        }
        throw new RequestFailedError(
          url.href,
          answer.statusCode,
          `${call.method} ${url.href}: the answer was cut off`,
          {
            cause,
          },
        );
      }
      const status = answer.statusCode;
      if (status < 400 || call.accept?.includes(status)) {
        return { status, headers: answer.headers, json: parseJson(text, url.href, status) };
      }
      // A 401 means nothing was done, so any method may try again, once, with a fresh credential.
      if (status === 401 && !renewed) {
        renewed = true;
        if (await this.options.auth.renew(credential)) {
          attempt--;
          continue;
        }
      }
      if (status === 503 && retriable && attempt < this.retries) {
        await this.pause(attempt);
        continue;
      }
      const { title, description } = parseErrorBody(status, text);
      throw errorFromAnswer({ status, title, description, method: call.method, url: url.href }, call.route, {
        ...optional('retryAfter', header(answer.headers['retry-after'])),
        ...optional('challenge', header(answer.headers['www-authenticate'])),
      });
    }
  }

  private async pause(attempt: number): Promise<void> {
    this.retriesMade++;
    await sleep(this.backoff(attempt));
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}

/** A success answer's body; one that is not JSON (a proxy's page) is the server's failure, not a crash. */
function parseJson(text: string, url: string, status: number): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new RequestFailedError(url, status, `the server answered ${status} with a body that is not JSON`, { cause });
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
