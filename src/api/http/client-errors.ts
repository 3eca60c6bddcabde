import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { RETRY_AFTER, RETRY_HINT, UNAVAILABLE_TITLE } from './errors.js';

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

/** Fastify's clientErrorHandler: Zaqar's body for a parser error, a debug line for a client that left. */
export function handleClientError(log: FastifyBaseLogger | undefined, error: ParserError, socket: Socket): void {
  if (error.code !== undefined && GONE.has(error.code)) {
    // A client that disconnects mid-request is normal (a timeout on its side, a closed tab).
    log?.debug({ code: error.code }, 'client went away mid-request');
    socket.destroy();
    return;
  }
  log?.debug({ code: error.code ?? null, err: error.message }, 'request refused by the HTTP parser');
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
