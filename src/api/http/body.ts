import { isUtf8 } from 'node:buffer';
import { bodyError } from '../../service/index.js';

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
  // An integer beyond 64 bits needs at least 19 digits; only then is a closer look needed.
  if (LONG_DIGITS.test(text) && hasOverflowingInteger(text)) {
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

const LONG_DIGITS = /\d{19}/;
const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * True when a (valid) JSON text holds an integer literal outside ±(2^63 − 1), the range Zaqar
 * accepts. Walks the text once, skipping strings, and looks only at numbers without fraction or
 * exponent, as Python's json module reads only those as integers.
 */
export function hasOverflowingInteger(text: string): boolean {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, honouring backslash escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) i++;
        else break;
      }
      const literal = text.slice(start, i);
      if (!/[.eE]/.test(literal) && literal.length >= 19) {
        const value = BigInt(literal);
        if (value > INT64_MAX || value < -INT64_MAX) return true;
      }
    } else {
      i++;
    }
  }
  return false;
}
