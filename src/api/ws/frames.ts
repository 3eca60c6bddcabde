import { Packr } from 'msgpackr';
import type { RawData } from 'ws';
import { hasOverflowingInteger } from '../shared/index.js';

/**
 * Frames of Zaqar's WebSocket API: text frames carry JSON, binary frames MessagePack, and every
 * answer goes back in the encoding of the request it answers.
 */

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

export function bytesOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * How deep a request document may nest. A stored value may be 100 levels deep (core/validate.ts)
 * under a few levels of request envelope; a document deeper than this cannot be valid, and it is
 * refused here, before any work, because the answer echoes the request and a recursive encoder
 * overflows its stack on a few thousand levels.
 */
export const MAX_FRAME_DEPTH = 128;

/** The request document of a frame; throws an Error saying why it is not one. */
export function decodeFrame(data: RawData, binary: boolean): unknown {
  const bytes = bytesOf(data);
  const text = binary ? null : bytes.toString('utf8');
  const value: unknown = text === null ? packr.unpack(bytes) : JSON.parse(text);
  if (nestedDeeperThan(value, MAX_FRAME_DEPTH)) {
    throw new RangeError(`the document is nested deeper than ${MAX_FRAME_DEPTH} levels`);
  }
  if (text !== null && hasOverflowingInteger(text)) {
    throw new RangeError('an integer is beyond the 64-bit range');
  }
  return value;
}

/** Whether a decoded document nests deeper than `limit`; iterative, so no depth can overflow it. */
function nestedDeeperThan(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, depth] = next;
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) continue;
    if (depth >= limit) return true;
    for (const item of Array.isArray(value) ? value : Object.values(value)) stack.push([item, depth + 1]);
  }
  return false;
}

/** The name of what a frame should have been, for error messages (Zaqar's words). */
export function encodingName(binary: boolean): string {
  return binary ? 'binary (MessagePack)' : 'text (JSON)';
}

/** An answer document as a frame of the given encoding. Big integers (from MessagePack) are written as numbers. */
export function encodeFrame(document: unknown, binary: boolean): string | Buffer {
  if (binary) return packr.pack(document);
  return JSON.stringify(document, (_key, value) => (typeof value === 'bigint' ? Number(value) : value));
}

/** A document received as JSON text, sent on as a frame of the given encoding (socket notifications). */
export function reencode(json: string, binary: boolean): string | Buffer {
  return binary ? packr.pack(JSON.parse(json)) : json;
}
