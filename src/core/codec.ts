import { Packr } from 'msgpackr';
import { CorruptDataError } from './errors.js';

/**
 * The one encoding of message bodies and records at rest and on binary wires: plain
 * MessagePack (no msgpackr record extension), so other languages can read what Posthorn wrote.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new CorruptDataError('a stored value could not be decoded', {}, { cause: error });
  }
}
