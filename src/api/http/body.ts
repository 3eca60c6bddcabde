import { isUtf8 } from 'node:buffer';
import { bodyError } from '../../service/index.js';
import { hasOverflowingInteger } from '../shared/index.js';

/**
 * Request bodies. Every body arrives as raw bytes (one catch-all content-type parser, see app.ts)
 * and is parsed here, because Zaqar reads the body as JSON whatever the Content-Type says and
 * because its refusals differ from a generic JSON parser's: an unparseable document, an empty one
 * where one is needed, and integers beyond 64 bits are each refused with a 400.
 */

/** `undefined` for a request without a body (none, or zero bytes: Zaqar reads those as "no body"). */
export function readJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  if (!isUtf8(body)) throw bodyError('body', 'The request body could not be parsed: it is not UTF-8.');
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bodyError('body', 'The request body could not be parsed as JSON.');
  }
  if (hasOverflowingInteger(text)) {
    throw bodyError('body', 'The JSON document contains an integer beyond the 64-bit range.');
  }
  return value;
}

/** Like readJson, but a missing body is an error. */
export function requireJson(body: unknown): unknown {
  const document = readJson(body);
  if (document === undefined) throw bodyError('body', 'The request body must not be empty.');
  return document;
}
