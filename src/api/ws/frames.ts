import { Packr } from 'msgpackr';
import type { RawData } from 'ws';
import { nestsDeeperThan } from '../../core/index.js';
import { hasOverflowingInteger } from '../http/body.js';

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
 * How deep a request document may nest. Bodies and metadata are refused beyond 100 levels by
 * the service's checks; the request around them adds a few. A deeper frame is refused here,
 * before any work: answers echo the request, and encoding one nested thousands deep would
 * overflow the stack.
 */
const MAX_FRAME_DEPTH = 110;

/** The request document of a frame; throws an Error saying why it is not one. */
export function decodeFrame(data: RawData, binary: boolean): unknown {
  const bytes = bytesOf(data);
  let value: unknown;
  if (binary) {
    value = packr.unpack(bytes);
  } else {
    const text = bytes.toString('utf8');
    value = JSON.parse(text);
    if (/\d{19}/.test(text) && hasOverflowingInteger(text)) {
      throw new RangeError('an integer is beyond the 64-bit range');
    }
  }
  if (nestsDeeperThan(value, MAX_FRAME_DEPTH)) {
    throw new RangeError(`the document is nested deeper than ${MAX_FRAME_DEPTH} levels`);
  }
  return value;
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
