import { constants } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { FileIo } from '../../core/index.js';
import type { Effect } from '../state/index.js';
import { HEADER_BYTES, MAX_RECORD_BYTES, PREFIX_BYTES, RECORD_MAGIC } from './log-format.js';
import { decodeRecord, decodeSeal } from './record-codec.js';

/** A record read whole from a log segment, from `offset` to `end`. */
export type LogRecord =
  | { kind: 'seal'; offset: number; end: number; segment: number; size: number }
  | { kind: 'effect'; offset: number; end: number; lsn: number; effect: Effect | null; bodyCrc: boolean };

/** A stretch of a segment that holds no readable record. */
export interface LogDamage {
  /** Where the stretch starts in the segment. */
  offset: number;
  /** Its length: up to the next intact record, or to the end of the segment. */
  bytes: number;
  /** Why the record at `offset` could not be read. */
  reason: string;
  /** No intact record follows in the segment: the damage runs to its end. */
  atEnd: boolean;
}

/**
 * What the reader does with damage: skip it and read on from the next intact record, or take
 * the segment to end where the damage starts (the caller then cuts the file there).
 */
export type DamageDecision = 'skip' | 'truncate';

/**
 * Told of every damaged stretch the reader meets, as LevelDB's log::Reader::Reporter is: the
 * reader only finds damage; whether it is a torn write to cut off or lost data to report and
 * skip depends on what the caller knows of the rest of the log.
 */
export interface LogReporter {
  corruption(damage: LogDamage): DamageDecision;
}

/**
 * Reads the records of one segment's bytes from `from` on. A record is trusted only when its
 * frame is whole and its payload matches its CRC and decodes; anything else is damage, reported
 * with its extent, and the reporter's decision is followed.
 */
export class LogReader {
  /** Where reading ended: the end of the bytes, or where the reporter had the segment end. */
  end: number;
  /** Whether the reporter had the segment end at damage (the file should be cut to `end`). */
  truncated = false;

  constructor(
    private readonly buf: Buffer,
    /** The segment's number: bodies' refs are computed from it. */
    private readonly segment: number,
    private readonly from: number,
    private readonly reporter: LogReporter,
  ) {
    this.end = buf.length;
  }

  *records(): Generator<LogRecord> {
    const buf = this.buf;
    let at = Math.min(this.from, buf.length);
    while (at < buf.length) {
      const end = validFrameAt(buf, at);
      if (end >= 0) {
        const payload = buf.subarray(at + HEADER_BYTES, end);
        const seal = decodeSeal(payload);
        if (seal) {
          yield { kind: 'seal', offset: at, end, ...seal };
          at = end;
          continue;
        }
        let decoded: ReturnType<typeof decodeRecord> | null = null;
        try {
          decoded = decodeRecord(payload, this.segment, at + HEADER_BYTES);
        } catch {
          decoded = null;
        }
        if (decoded) {
          yield { kind: 'effect', offset: at, end, ...decoded };
          at = end;
          continue;
        }
      }
      const next = findNextFrame(buf, at + 1);
      const stop = next < 0 ? buf.length : next;
      const damage: LogDamage = { offset: at, bytes: stop - at, reason: whyUnreadable(buf, at), atEnd: next < 0 };
      if (this.reporter.corruption(damage) === 'truncate') {
        this.end = at;
        this.truncated = true;
        return;
      }
      at = stop;
    }
  }
}

/** Where the frame at `at` of `buf` ends when it is whole and its payload matches its CRC; -1 otherwise. */
export function validFrameAt(buf: Buffer, at: number): number {
  if (at + HEADER_BYTES > buf.length || buf.readUInt32BE(at) !== RECORD_MAGIC) return -1;
  const length = buf.readUInt32BE(at + 4);
  const end = at + HEADER_BYTES + length;
  if (length < PREFIX_BYTES || end > buf.length) return -1;
  return crc32(buf.subarray(at + HEADER_BYTES, end)) === buf.readUInt32BE(at + 8) ? end : -1;
}

function whyUnreadable(buf: Buffer, at: number): string {
  if (at + HEADER_BYTES > buf.length) return 'a record header is cut short';
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return 'no record starts here';
  const length = buf.readUInt32BE(at + 4);
  if (length < PREFIX_BYTES) return 'a record is shorter than its prefix';
  if (at + HEADER_BYTES + length > buf.length) return 'a record runs past the end of the segment';
  if (validFrameAt(buf, at) < 0) return 'a record fails its checksum';
  return 'a record passed its checksum but could not be decoded';
}

/** The start of the next intact record at or after `from`, or -1. */
function findNextFrame(buf: Buffer, from: number): number {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(RECORD_MAGIC, 0);
  for (let at = buf.indexOf(magic, from); at >= 0; at = buf.indexOf(magic, at + 1)) {
    if (validFrameAt(buf, at) >= 0) return at;
  }
  return -1;
}

/** Whether the record at `offset` of a segment file is whole (reads that record only). */
export async function firstRecordIntact(io: FileIo, path: string, offset: number): Promise<boolean> {
  const fd = await io.open(path, constants.O_RDONLY);
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    if ((await readFully(io, fd, header, offset)) < HEADER_BYTES) return false;
    if (header.readUInt32BE(0) !== RECORD_MAGIC) return false;
    const length = header.readUInt32BE(4);
    if (length > MAX_RECORD_BYTES) return false;
    const record = Buffer.alloc(HEADER_BYTES + length);
    header.copy(record);
    if ((await readFully(io, fd, record.subarray(HEADER_BYTES), offset + HEADER_BYTES)) < length) return false;
    return validFrameAt(record, 0) >= 0;
  } finally {
    await io.close(fd);
  }
}

/** Reads into all of `buf` from `position`, or up to the end of the file; answers the bytes read. */
async function readFully(io: FileIo, fd: number, buf: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const n = await io.read(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
