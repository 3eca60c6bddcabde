import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { RETRY_AFTER, RETRY_HINT, UNAVAILABLE_TITLE } from '../shared/index.js';

/**
 * Answers to requests Node's HTTP parser refuses (a malformed request line, a lowercase method,
 * a duplicate Content-Length, headers over the limit): they never reach Fastify's routes or error
 * handler, and Fastify's default answer has its own body shape. Clients of Zaqar read
 * `{"title","description"}` from every error, so these get that body too.
 */

interface ParserError extends Error {
  code?: string;
}

/** Node's parser error codes and the status each one is answered with; anything else is a 400. */
const PARSER_STATUS: Readonly<Record<string, { status: number; reason: string; description: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    description: 'The request headers are larger than the server accepts.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    reason: 'Request Timeout',
    description: 'The request was not received in time.',
  },
};

/** Codes of a client that went away: nothing can be answered, and it is not the server's trouble. */
const GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED']);

/**
 * A client that closed its connection while its request body was still arriving. Nothing can be
 * answered and nothing was done (the body never reached a route): the error handler logs it at
 * debug, as handleClientError does for a client that leaves during the headers.
 */
export class ClientGoneError extends Error {
  readonly code = 'PH_CLIENT_GONE';
  constructor(options: { cause?: unknown } = {}) {
    super('the client closed the connection before its request body had arrived', options);
    this.name = 'ClientGoneError';
  }
}

/** Whether a body stream's error means its client left (rather than something on our side). */
export function isClientGone(error: unknown, aborted: boolean): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return aborted || (typeof code === 'string' && GONE.has(code));
}

/** The raw answer written on the socket for a parser error. */
export function clientErrorAnswer(error: ParserError): string {
  const known = error.code !== undefined ? PARSER_STATUS[error.code] : undefined;
  const status = known?.status ?? 400;
  const reason = known?.reason ?? 'Bad Request';
  const description = known?.description ?? 'The request could not be parsed as HTTP.';
  const body = JSON.stringify({ title: known ? reason : 'Malformed request', description });
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Sockets whose client's leaving is logged already: the parser and the body reader may both see it. */
const goneLogged = new WeakSet<Socket>();

/** Logs at debug, once per connection, that its client went away mid-request. */
export function logClientGone(
  log: FastifyBaseLogger | undefined,
  socket: Socket,
  fields: Record<string, unknown>,
): void {
  if (goneLogged.has(socket)) return;
  goneLogged.add(socket);
  // A client that disconnects mid-request is normal (a timeout on its side, a closed tab).
  log?.debug(fields, 'client went away mid-request');
}

/** Fastify's clientErrorHandler: Zaqar's body for a parser error, a debug line for a client that left. */
export function handleClientError(log: FastifyBaseLogger | undefined, error: ParserError, socket: Socket): void {
  if (error.code !== undefined && GONE.has(error.code)) {
    logClientGone(log, socket, { code: error.code });
    socket.destroy();
    return;
  }
  if (error.code === 'HPE_INVALID_EOF_STATE') {
    // The client ended its side mid-request: it left (or half-closed; it may still read the 400).
    logClientGone(log, socket, { code: error.code });
  } else {
    log?.debug({ code: error.code ?? null, err: error.message }, 'request refused by the HTTP parser');
  }
  if (socket.writable) socket.end(clientErrorAnswer(error));
  else socket.destroy();
}

/**
 * The raw answer to a client the server has no room for (its connection limit is reached): a
 * 503 with Zaqar's body and Retry-After, written before any request is read, so it fits whatever
 * the client was about to send, HTTP or a WebSocket upgrade.
 */
export function tooManyConnectionsAnswer(): string {
  const body = JSON.stringify({
    title: UNAVAILABLE_TITLE,
    description: `The server has as many connections open as it can hold. ${RETRY_HINT}`,
  });
  return (
    'HTTP/1.1 503 Service Unavailable\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Retry-After: ${RETRY_AFTER['retry-after']}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}
