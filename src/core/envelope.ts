import { InvalidArgumentError } from './errors.js';
import { isPlainObject } from './validate.js';

/**
 * A mail envelope, the one shape both mail spools take: slimta's DiskStorage (compat/) and the
 * delivery Spool (spool/). Callers hand in an `Envelope`; what the spools keep and give back is
 * its checked, copied form, a `SpooledEnvelope` (headers always present, body as bytes).
 */

/** A header field; a name may appear more than once in a list of them. */
export type Header = readonly [name: string, value: string];

/** What a caller hands a spool. `sender` '' is the null sender (bounces). */
export interface Envelope {
  sender: string;
  recipients: readonly string[];
  /** Header fields in order (default: none). */
  headers?: readonly Header[];
  /** The message; a string is stored as UTF-8. */
  body: Uint8Array | string;
}

/** An envelope as a spool keeps it and gives it back. */
export interface SpooledEnvelope {
  sender: string;
  recipients: string[];
  headers: [name: string, value: string][];
  body: Buffer;
}

const MAX_ADDRESS = 4096;
const HEADER_NAME = /^[!-9;-~]+$/;
const LINE_BREAK = /[\r\n\0]/;

/**
 * Checks an envelope and copies it into its spooled form, or throws InvalidArgumentError naming
 * the field. Recipients are kept as given, duplicates included: slimta's DiskStorage addresses
 * them by index.
 */
export function checkEnvelope(envelope: unknown): SpooledEnvelope {
  if (!isPlainObject(envelope)) throw new InvalidArgumentError('envelope', 'must be an object');
  const { sender, headers = [], body } = envelope as Partial<Envelope>;
  if (typeof sender !== 'string' || sender.length > MAX_ADDRESS || LINE_BREAK.test(sender)) {
    throw new InvalidArgumentError('envelope.sender', 'must be a string without line breaks ("" is the null sender)');
  }
  const recipients = checkRecipients(envelope.recipients, 'envelope.recipients');
  if (!Array.isArray(headers)) {
    throw new InvalidArgumentError('envelope.headers', 'must be a list of [name, value] pairs');
  }
  const copied = headers.map((h: unknown, i): [string, string] => {
    const field = `envelope.headers[${i}]`;
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string') {
      throw new InvalidArgumentError(field, 'must be a [name, value] pair of strings');
    }
    if (!HEADER_NAME.test(h[0])) throw new InvalidArgumentError(field, `${JSON.stringify(h[0])} is not a header name`);
    if (LINE_BREAK.test(h[1])) throw new InvalidArgumentError(field, 'a header value must not hold line breaks');
    return [h[0], h[1]];
  });
  let bytes: Buffer;
  if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else throw new InvalidArgumentError('envelope.body', 'must be a string or bytes (a Uint8Array or Buffer)');
  return { sender, recipients, headers: copied, body: bytes };
}

/** Recipients: at least one, each a non-empty string without line breaks. */
export function checkRecipients(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError(field, 'must list at least one recipient');
  }
  return value.map((r, i) => {
    if (typeof r !== 'string' || r.length === 0 || r.length > MAX_ADDRESS || LINE_BREAK.test(r)) {
      throw new InvalidArgumentError(`${field}[${i}]`, 'must be a non-empty string without line breaks');
    }
    return r;
  });
}
