import { crc32 } from 'node:zlib';
import { CorruptDataError, decodeValue, encodeValue } from '../../core/index.js';
import type { Effect, Post, PostedMessage, PostKey, Relocate } from '../state/index.js';
import { fromStoredEffect, type MappedEffect, toStoredEffect } from './effect-fields.js';
import {
  BODY_CRC_BYTES,
  HEADER_BYTES,
  PREFIX_BYTES,
  RECORD_MAGIC,
  TYPE_EFFECT,
  TYPE_POST,
  TYPE_POST_CRC,
  TYPE_POST_KEY,
  TYPE_RELOCATE,
  TYPE_RELOCATE_CRC,
  TYPE_SEAL,
} from './log-format.js';

/**
 * The disk log's records, written and read (framing and record types are in log-format.ts).
 * Posts (the hot path) have a compact binary form with the bodies appended; relocations carry
 * bodies too; every other effect is MessagePack, under the log's field names (effect-fields.ts).
 */

/** A body's place: segment number × 2^32 + byte offset in the segment file. */
export function bodyRef(segment: number, offset: number): number {
  return segment * 2 ** 32 + offset;
}

export function refSegment(ref: number): number {
  return Math.floor(ref / 2 ** 32);
}

export function refOffset(ref: number): number {
  return ref % 2 ** 32;
}

function frame(payload: Buffer): Buffer {
  payload.writeUInt32BE(RECORD_MAGIC, 0);
  payload.writeUInt32BE(payload.length - HEADER_BYTES, 4);
  payload.writeUInt32BE(crc32(payload.subarray(HEADER_BYTES)), 8);
  return payload;
}

/**
 * Encodes a post whose record will start at `offset` of `segment`, and sets each message's
 * `ref` to where its body will lie. Strings are written straight into the record: this runs
 * for every post, often for a single message.
 */
export function encodePost(effect: Post, lsn: number, bodies: Buffer[], segment: number, offset: number): Buffer {
  const pLength = Buffer.byteLength(effect.project);
  const qLength = Buffer.byteLength(effect.queue);
  const cLength = Buffer.byteLength(effect.client);
  const messages = effect.messages;
  let size = HEADER_BYTES + PREFIX_BYTES + 2 + pLength + 1 + qLength + 2 + cLength + 20;
  const key = effect.idempotency;
  // Keys are printable ASCII of at most 255 characters (the guard checks), fingerprints hex.
  if (key) size += 1 + key.key.length + 1 + key.fingerprint.length + 8;
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k] as PostedMessage;
    size += 11 + BODY_CRC_BYTES + m.length + (m.checksum === null ? 0 : Buffer.byteLength(m.checksum));
  }
  const buf = Buffer.allocUnsafe(size);
  let at = HEADER_BYTES;
  buf[at++] = key ? TYPE_POST_KEY : TYPE_POST_CRC;
  buf.writeDoubleBE(lsn, at);
  at += 8;
  buf.writeUInt16BE(pLength, at);
  at += 2 + buf.write(effect.project, at + 2, 'utf8');
  buf[at++] = qLength;
  at += buf.write(effect.queue, at, 'utf8');
  buf.writeUInt16BE(cLength, at);
  at += 2 + buf.write(effect.client, at + 2, 'utf8');
  buf.writeDoubleBE(effect.now, at);
  buf.writeDoubleBE(effect.seq, at + 8);
  buf.writeUInt32BE(messages.length, at + 16);
  at += 20;
  if (key) {
    buf[at] = key.key.length;
    at += 1 + buf.write(key.key, at + 1, 'latin1');
    buf[at] = key.fingerprint.length;
    at += 1 + buf.write(key.fingerprint, at + 1, 'latin1');
    buf.writeDoubleBE(key.until, at);
    at += 8;
  }
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k] as PostedMessage;
    buf.writeUInt32BE(m.ttl, at);
    buf.writeUInt16BE(m.delay, at + 4);
    buf.writeUInt32BE(m.length, at + 6);
    const csLength = m.checksum === null ? 0 : buf.write(m.checksum, at + 11, 'utf8');
    buf[at + 10] = csLength;
    at += 11 + csLength;
  }
  const base = bodyRef(segment, offset);
  for (let k = 0; k < messages.length; k++) {
    const body = bodies[k] as Buffer;
    buf.writeUInt32BE(crc32(body), at);
    at += BODY_CRC_BYTES;
    (messages[k] as PostedMessage).ref = base + at;
    at += body.copy(buf, at);
  }
  return frame(buf);
}

/** Encodes a relocation, setting each entry's new ref to where its body will lie. */
export function encodeRelocate(
  effect: Relocate,
  lsn: number,
  bodies: Buffer[],
  segment: number,
  offset: number,
): Buffer {
  const head = encodeValue(
    effect.entries.map(({ project, queue, order }, k) => [project, queue, order, (bodies[k] as Buffer).length]),
  );
  let size = HEADER_BYTES + PREFIX_BYTES + 4 + head.length;
  for (const b of bodies) size += BODY_CRC_BYTES + b.length;
  const buf = Buffer.allocUnsafe(size);
  let at = HEADER_BYTES;
  buf[at++] = TYPE_RELOCATE_CRC;
  buf.writeDoubleBE(lsn, at);
  buf.writeUInt32BE(head.length, at + 8);
  at += 12 + head.copy(buf, at + 12);
  effect.entries.forEach((entry, k) => {
    const body = bodies[k] as Buffer;
    buf.writeUInt32BE(crc32(body), at);
    at += BODY_CRC_BYTES;
    entry.ref = bodyRef(segment, offset + at);
    at += body.copy(buf, at);
  });
  return frame(buf);
}

export function encodeEffect(effect: MappedEffect, lsn: number): Buffer {
  const body = encodeValue(toStoredEffect(effect));
  const buf = Buffer.allocUnsafe(HEADER_BYTES + PREFIX_BYTES + body.length);
  buf[HEADER_BYTES] = TYPE_EFFECT;
  buf.writeDoubleBE(lsn, HEADER_BYTES + 1);
  body.copy(buf, HEADER_BYTES + PREFIX_BYTES);
  return frame(buf);
}

/**
 * Decodes a record's payload that lies at `payloadOffset` of `segment` (the payload has been
 * checked against its CRC). Refs are computed from where the bodies lie. The effect is null for
 * a MessagePack effect this version does not know (see fromStoredEffect).
 */
export function decodeRecord(
  payload: Buffer,
  segment: number,
  payloadOffset: number,
): { lsn: number; effect: Effect | null; bodyCrc: boolean } {
  try {
    const type = payload[0];
    const bodyCrc = type === TYPE_POST_CRC || type === TYPE_POST_KEY || type === TYPE_RELOCATE_CRC;
    const gap = bodyCrc ? BODY_CRC_BYTES : 0;
    const lsn = payload.readDoubleBE(1);
    let at = PREFIX_BYTES;
    if (type === TYPE_EFFECT) return { lsn, effect: fromStoredEffect(decodeValue(payload.subarray(at))), bodyCrc };
    if (type === TYPE_RELOCATE || type === TYPE_RELOCATE_CRC) {
      const headLength = payload.readUInt32BE(at);
      at += 4;
      const head = decodeValue(payload.subarray(at, at + headLength)) as [string, string, number, number][];
      at += headLength;
      const entries = head.map(([project, queue, order, length]) => {
        at += gap;
        const ref = bodyRef(segment, payloadOffset + at);
        at += length;
        return { project, queue, order, ref };
      });
      return { lsn, effect: { type: 'relocate', entries }, bodyCrc };
    }
    if (type !== TYPE_POST && type !== TYPE_POST_CRC && type !== TYPE_POST_KEY) {
      throw new Error(`unknown record type ${type}`);
    }
    const pLength = payload.readUInt16BE(at);
    const project = payload.toString('utf8', at + 2, at + 2 + pLength);
    at += 2 + pLength;
    const qLength = payload[at] as number;
    const queue = payload.toString('utf8', at + 1, at + 1 + qLength);
    at += 1 + qLength;
    const cLength = payload.readUInt16BE(at);
    const client = payload.toString('utf8', at + 2, at + 2 + cLength);
    at += 2 + cLength;
    const now = payload.readDoubleBE(at);
    const seq = payload.readDoubleBE(at + 8);
    const n = payload.readUInt32BE(at + 16);
    at += 20;
    let key: PostKey | undefined;
    if (type === TYPE_POST_KEY) {
      const kLength = payload[at] as number;
      const name = payload.toString('latin1', at + 1, at + 1 + kLength);
      at += 1 + kLength;
      const fLength = payload[at] as number;
      const fingerprint = payload.toString('latin1', at + 1, at + 1 + fLength);
      at += 1 + fLength;
      key = { key: name, fingerprint, until: payload.readDoubleBE(at) };
      at += 8;
    }
    const messages: PostedMessage[] = [];
    for (let k = 0; k < n; k++) {
      const csLength = payload[at + 10] as number;
      messages.push({
        ttl: payload.readUInt32BE(at),
        delay: payload.readUInt16BE(at + 4),
        length: payload.readUInt32BE(at + 6),
        checksum: csLength === 0 ? null : payload.toString('utf8', at + 11, at + 11 + csLength),
        ref: 0,
      });
      at += 11 + csLength;
    }
    for (const m of messages) {
      at += gap;
      m.ref = bodyRef(segment, payloadOffset + at);
      at += m.length;
    }
    if (at !== payload.length) throw new Error('post record length does not add up');
    const post: Post = { type: 'post', project, queue, client, now, seq, messages };
    if (key) post.idempotency = key;
    return { lsn, effect: post, bodyCrc };
  } catch (error) {
    throw new CorruptDataError('a log record passed its checksum but could not be decoded', {}, { cause: error });
  }
}

/** A seal record: segment `segment` is `size` bytes long and durable (written at `lsn`). */
export function encodeSeal(lsn: number, segment: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + PREFIX_BYTES + 12);
  buf[HEADER_BYTES] = TYPE_SEAL;
  buf.writeDoubleBE(lsn, HEADER_BYTES + 1);
  buf.writeUInt32BE(segment, HEADER_BYTES + PREFIX_BYTES);
  buf.writeDoubleBE(size, HEADER_BYTES + PREFIX_BYTES + 4);
  return frame(buf);
}

/** The sealed segment and its size when the (CRC-checked) payload is a seal; null otherwise. */
export function decodeSeal(payload: Buffer): { segment: number; size: number } | null {
  if (payload[0] !== TYPE_SEAL || payload.length !== PREFIX_BYTES + 12) return null;
  return { segment: payload.readUInt32BE(PREFIX_BYTES), size: payload.readDoubleBE(PREFIX_BYTES + 4) };
}
