import type { IncomingMessage } from 'node:http';
import { errorCodes, type FastifyRequest } from 'fastify';
import { ClientGoneError, isClientGone } from './client-errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The most bytes this request's route reads (set by the route's preParsing hook, see router.ts). */
    bodyLimit: number;
  }
}

type Done = (error: Error | null, body?: Buffer) => void;

/**
 * Reads a request body into one Buffer, whatever its Content-Type (Zaqar reads every body as
 * JSON; routes parse it, see body.ts). The route's limit is checked against Content-Length before
 * a byte is read, and against the bytes received for chunked bodies. A body that arrives in one
 * chunk — most do — is handed over as it is, without the copy Fastify's own parsers make: the
 * chunk is a slice of a buffer the socket allocated for that read alone, never reused.
 */
export function readBody(request: FastifyRequest, payload: IncomingMessage, done: Done): void {
  const limit = request.bodyLimit;
  const declaredHeader = request.headers['content-length'];
  const declared = declaredHeader === undefined ? Number.NaN : Number(declaredHeader);
  if (declared > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) {
      cleanup();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    if (first === undefined) {
      first = chunk;
    } else {
      chunks ??= [first];
      chunks.push(chunk);
    }
  };
  const onEnd = () => {
    cleanup();
    if (!Number.isNaN(declared) && received !== declared) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    done(null, chunks ? Buffer.concat(chunks, received) : (first ?? Buffer.alloc(0)));
  };
  const onError = (error: Error) => {
    cleanup();
    // A client that hangs up mid-body ("aborted", ECONNRESET) is normal, not the server's failure.
    done(isClientGone(error, payload.aborted) ? new ClientGoneError({ cause: error }) : error);
  };
  const cleanup = () => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
}
