import { createHash } from 'node:crypto';
import { isPlainObject } from '../core/index.js';

/**
 * Message checksums as Zaqar makes them when `enable_checksum` is on: "MD5:" and the hex MD5 of
 * the body serialized by Python's json.dumps with its defaults. To give a client the checksum
 * Zaqar would give for the same body, the body is serialized here the way Python does it:
 * ", " and ": " separators, non-ASCII escaped as \uXXXX, floats in Python's repr.
 *
 * Known differences, all from JSON.parse losing what Python keeps: a float written with a zero
 * fraction (1.0) reads as an integer here (Python prints "1.0", this prints "1"), and object keys
 * that look like array indexes come first in JavaScript objects whatever their order in the request.
 */
export function messageChecksum(body: unknown): string | undefined {
  if (body === null || body === undefined || body instanceof Uint8Array) return undefined;
  return `MD5:${createHash('md5').update(pythonJson(body)).digest('hex')}`;
}

/** Python's json.dumps(value) with default arguments. */
export function pythonJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return pythonString(value);
    case 'number':
      return pythonNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
      if (isPlainObject(value)) {
        const parts: string[] = [];
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) parts.push(`${pythonString(key)}: ${pythonJson(item)}`);
        }
        return `{${parts.join(', ')}}`;
      }
      return 'null';
    }
    default:
      return 'null';
  }
}

function pythonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) out += '\\"';
    else if (code === 0x5c) out += '\\\\';
    else if (code >= 0x20 && code <= 0x7e) out += text[i];
    else if (code === 0x0a) out += '\\n';
    else if (code === 0x0d) out += '\\r';
    else if (code === 0x09) out += '\\t';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x0c) out += '\\f';
    else out += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

function pythonNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : n < 0 ? '-Infinity' : 'NaN';
  // An integer in a JSON document was an int for Python, printed in full.
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Object.is(n, -0) ? '-0.0' : String(n);
  // A float: Python's repr uses the shortest digits (as JavaScript does) but switches to an
  // exponent below 1e-4 and from 1e16, and writes the exponent with a sign and two digits.
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    const fixed = String(n);
    if (!fixed.includes('e')) return fixed;
    const negative = mantissa.startsWith('-');
    const digits = mantissa.replace('-', '').replace('.', '');
    const point = exp + 1;
    const body =
      point <= 0
        ? `0.${'0'.repeat(-point)}${digits}`
        : digits.length > point
          ? `${digits.slice(0, point)}.${digits.slice(point)}`
          : `${digits}${'0'.repeat(point - digits.length)}.0`;
    return negative ? `-${body}` : body;
  }
  const sign = exp < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
}
