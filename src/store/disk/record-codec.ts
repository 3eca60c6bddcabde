import { crc32 } from 'node:zlib';
import { CorruptDataError, decodeValue, encodeValue } from '../../core/index.js';
import type { Effect, Post, PostedMessage, PostKey, Relocate } from '../state/index.js';

/**
 * The disk log's records. Each is framed as
 *
 *   magic u32 "PHR1" | payload length u32 | CRC-32 of the payload u32 | payload
 *
 * so a torn or damaged record is detected, never trusted, and the next intact one can be found
 * again by its magic. The payload starts with its type (u8) and its log sequence number (f64).
 * Posts (the hot path) have a compact binary form with the bodies appended; relocations carry
 * bodies too; every other effect is MessagePack.
 */

export const RECORD_MAGIC = 0x50485231;
export const HEADER_BYTES = 12;
const TYPE_POST = 1;
const TYPE_EFFECT = 2;
const TYPE_RELOCATE = 3;
/**
 * Posts and relocations as written now: each body is preceded by its own CRC-32, so a body read
 * back alone (bodies are read lazily, long after the record's CRC was checked at open) is checked
 * too. Types 1 and 3 (bodies without a CRC) are still read.
 */
const TYPE_POST_CRC = 4;
const TYPE_RELOCATE_CRC = 5;
/**
 * A seal, the first record of a segment: how long the segment before it is. That segment got no
 * byte after the seal was written and was wholly durable before the new one got any (see
 * Journal.flush), so a shorter file is damage — acknowledged records were cut — not a torn write.
 */
const TYPE_SEAL = 6;
/**
 * A post with an idempotency key: TYPE_POST_CRC with the key, its fingerprint and when it is
 * forgotten after the message count, so the key is as durable as the messages and never
 * outlives or predates them, whatever instant a crash picks.
 */
const TYPE_POST_KEY = 7;
/** Bytes of the CRC-32 before each body in a post or relocation. */
export const BODY_CRC_BYTES = 4;
const PREFIX = 9; // type + lsn

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
  const pLength = Buffer.byteLength(effect.p);
  const qLength = Buffer.byteLength(effect.q);
  const cLength = Buffer.byteLength(effect.client);
  const msgs = effect.msgs;
  let size = HEADER_BYTES + PREFIX + 2 + pLength + 1 + qLength + 2 + cLength + 20;
  const key = effect.key;
  // Keys are printable ASCII of at most 255 characters (the guard checks), fingerprints hex.
  if (key) size += 1 + key.k.length + 1 + key.f.length + 8;
  for (let k = 0; k < msgs.length; k++) {
    const m = msgs[k] as PostedMessage;
    size += 11 + BODY_CRC_BYTES + m.len + (m.checksum === null ? 0 : Buffer.byteLength(m.checksum));
  }
  const buf = Buffer.allocUnsafe(size);
  let at = HEADER_BYTES;
  buf[at++] = key ? TYPE_POST_KEY : TYPE_POST_CRC;
  buf.writeDoubleBE(lsn, at);
  at += 8;
  buf.writeUInt16BE(pLength, at);
  at += 2 + buf.write(effect.p, at + 2, 'utf8');
  buf[at++] = qLength;
  at += buf.write(effect.q, at, 'utf8');
  buf.writeUInt16BE(cLength, at);
  at += 2 + buf.write(effect.client, at + 2, 'utf8');
  buf.writeDoubleBE(effect.now, at);
  buf.writeDoubleBE(effect.seq, at + 8);
  buf.writeUInt32BE(msgs.length, at + 16);
  at += 20;
  if (key) {
    buf[at] = key.k.length;
    at += 1 + buf.write(key.k, at + 1, 'latin1');
    buf[at] = key.f.length;
    at += 1 + buf.write(key.f, at + 1, 'latin1');
    buf.writeDoubleBE(key.until, at);
    at += 8;
  }
  for (let k = 0; k < msgs.length; k++) {
    const m = msgs[k] as PostedMessage;
    buf.writeUInt32BE(m.ttl, at);
    buf.writeUInt16BE(m.delay, at + 4);
    buf.writeUInt32BE(m.len, at + 6);
    const csLength = m.checksum === null ? 0 : buf.write(m.checksum, at + 11, 'utf8');
    buf[at + 10] = csLength;
    at += 11 + csLength;
  }
  const base = bodyRef(segment, offset);
  for (let k = 0; k < msgs.length; k++) {
    const body = bodies[k] as Buffer;
    buf.writeUInt32BE(crc32(body), at);
    at += BODY_CRC_BYTES;
    (msgs[k] as PostedMessage).ref = base + at;
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
  const head = encodeValue(effect.entries.map(([p, q, order], k) => [p, q, order, (bodies[k] as Buffer).length]));
  let size = HEADER_BYTES + PREFIX + 4 + head.length;
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
    entry[3] = bodyRef(segment, offset + at);
    at += body.copy(buf, at);
  });
  return frame(buf);
}

export function encodeEffect(effect: Effect, lsn: number): Buffer {
  const body = encodeValue(effect);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + PREFIX + body.length);
  buf[HEADER_BYTES] = TYPE_EFFECT;
  buf.writeDoubleBE(lsn, HEADER_BYTES + 1);
  body.copy(buf, HEADER_BYTES + PREFIX);
  return frame(buf);
}

/**
 * Decodes a record's payload that lies at `payloadOffset` of `segment` (the payload has been
 * checked against its CRC). Refs are computed from where the bodies lie.
 */
export function decodeRecord(
  payload: Buffer,
  segment: number,
  payloadOffset: number,
): { lsn: number; effect: Effect; bodyCrc: boolean } {
  try {
    const type = payload[0];
    const bodyCrc = type === TYPE_POST_CRC || type === TYPE_POST_KEY || type === TYPE_RELOCATE_CRC;
    const gap = bodyCrc ? BODY_CRC_BYTES : 0;
    const lsn = payload.readDoubleBE(1);
    let at = PREFIX;
    if (type === TYPE_EFFECT) return { lsn, effect: decodeValue(payload.subarray(at)) as Effect, bodyCrc };
    if (type === TYPE_RELOCATE || type === TYPE_RELOCATE_CRC) {
      const headLength = payload.readUInt32BE(at);
      at += 4;
      const head = decodeValue(payload.subarray(at, at + headLength)) as [string, string, number, number][];
      at += headLength;
      const entries = head.map(([p, q, order, len]): [string, string, number, number] => {
        at += gap;
        const ref = bodyRef(segment, payloadOffset + at);
        at += len;
        return [p, q, order, ref];
      });
      return { lsn, effect: { t: 'relocate', entries }, bodyCrc };
    }
    if (type !== TYPE_POST && type !== TYPE_POST_CRC && type !== TYPE_POST_KEY) {
      throw new Error(`unknown record type ${type}`);
    }
    const pLength = payload.readUInt16BE(at);
    const p = payload.toString('utf8', at + 2, at + 2 + pLength);
    at += 2 + pLength;
    const qLength = payload[at] as number;
    const q = payload.toString('utf8', at + 1, at + 1 + qLength);
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
      const k = payload.toString('latin1', at + 1, at + 1 + kLength);
      at += 1 + kLength;
      const fLength = payload[at] as number;
      const f = payload.toString('latin1', at + 1, at + 1 + fLength);
      at += 1 + fLength;
      key = { k, f, until: payload.readDoubleBE(at) };
      at += 8;
    }
    const msgs: Post['msgs'] = [];
    for (let k = 0; k < n; k++) {
      const csLength = payload[at + 10] as number;
      msgs.push({
        ttl: payload.readUInt32BE(at),
        delay: payload.readUInt16BE(at + 4),
        len: payload.readUInt32BE(at + 6),
        checksum: csLength === 0 ? null : payload.toString('utf8', at + 11, at + 11 + csLength),
        ref: 0,
      });
      at += 11 + csLength;
    }
    for (const m of msgs) {
      at += gap;
      m.ref = bodyRef(segment, payloadOffset + at);
      at += m.len;
    }
    if (at !== payload.length) throw new Error('post record length does not add up');
    const post: Post = { t: 'post', p, q, client, now, seq, msgs };
    if (key) post.key = key;
    return { lsn, effect: post, bodyCrc };
  } catch (error) {
    throw new CorruptDataError('a log record passed its checksum but could not be decoded', {}, { cause: error });
  }
}

/** Whether a frame header at `at` of `buf` is plausible and its payload matches its CRC. */
export function validFrameAt(buf: Buffer, at: number): number {
  if (at + HEADER_BYTES > buf.length || buf.readUInt32BE(at) !== RECORD_MAGIC) return -1;
  const length = buf.readUInt32BE(at + 4);
  const end = at + HEADER_BYTES + length;
  if (length < PREFIX || end > buf.length) return -1;
  return crc32(buf.subarray(at + HEADER_BYTES, end)) === buf.readUInt32BE(at + 8) ? end : -1;
}

/** A seal record: segment `segment` is `size` bytes long and durable (written at `lsn`). */
export function encodeSeal(lsn: number, segment: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + PREFIX + 12);
  buf[HEADER_BYTES] = TYPE_SEAL;
  buf.writeDoubleBE(lsn, HEADER_BYTES + 1);
  buf.writeUInt32BE(segment, HEADER_BYTES + PREFIX);
  buf.writeDoubleBE(size, HEADER_BYTES + PREFIX + 4);
  return frame(buf);
}

/** The sealed segment and its size when the (CRC-checked) payload is a seal; null otherwise. */
export function decodeSeal(payload: Buffer): { segment: number; size: number } | null {
  if (payload[0] !== TYPE_SEAL || payload.length !== PREFIX + 12) return null;
  return { segment: payload.readUInt32BE(PREFIX), size: payload.readDoubleBE(PREFIX + 4) };
}
