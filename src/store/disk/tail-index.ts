import fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeValue, encodeValue, type FileIo, type Logger } from '../../core/index.js';
import type { Effect } from '../state/index.js';

/**
 * The tail index: how far each log segment was durable, and which posts and deletes lie below
 * that length — written after every group commit's fdatasync has returned, so a cut of the
 * newest log records (past every seal and snapshot, where nothing later in the log says they
 * were there) is told apart from a torn write and reported with the ids it held.
 *
 * It is written with plain writes and never fsynced: an entry only describes log bytes already
 * durable when it was written, so after a power loss the index can be short (less is detected)
 * but never claims records the log did not have. The write is synchronous, in the fsync's
 * callback before the acknowledgement: a kill cannot take the entry of an acknowledged record,
 * and it costs a few microseconds where a round trip through the thread pool costs tens and
 * delays the acknowledgement (smaller group commits, more fsyncs). An entry is framed and checksummed like a log
 * record; a damaged one is skipped (it only makes the index know less).
 *
 *   log/tail.idx       entries since the snapshot being written (or the last one)
 *   log/tail.prev.idx  entries of before it, dropped once that snapshot is durable
 *
 * Posts are kept as sequence ranges (a message's id is its sequence number formatted with the
 * store's salt), deletes as order keys, so an entry costs bytes per record, not per message id.
 */

export const TAIL_INDEX_FILE = 'tail.idx';
export const TAIL_PREVIOUS_FILE = 'tail.prev.idx';
const ENTRY_MAGIC = 0x50485431; // "PHT1"
const HEADER_BYTES = 12;
/** An entry's kinds: a group commit made durable; a log found cut (and reported) at open. */
const KIND_COMMIT = 1;
const KIND_CUT = 2;
/** A record's kinds inside a commit entry. */
const NOTE_POST = 0;
const NOTE_DELETE = 1;

/** What a log record did that a loss report must name: messages posted, or deleted or popped. */
export type TailNote =
  | { kind: 'post'; project: string; queue: string; seq: number; count: number }
  | { kind: 'delete'; project: string; queue: string; orders: number[] };

/** A noted record and where it ends in its segment. */
export type NotedRecord = TailNote & { end: number };

/** The note of an effect the index keeps, or undefined (claims, metadata, seals…). */
export function tailNoteOf(effect: Effect): TailNote | undefined {
  if (effect.type === 'post') {
    const { project, queue, seq } = effect;
    return { kind: 'post', project, queue, seq, count: effect.messages.length };
  }
  if ((effect.type === 'messagesDelete' || effect.type === 'pop') && effect.orders.length > 0) {
    // A pop's dead-letter moves are not kept: a lost move leaves the message where it was.
    return { kind: 'delete', project: effect.project, queue: effect.queue, orders: effect.orders };
  }
  return undefined;
}

/** What the index says of one segment: its greatest durable length and the records below it. */
export interface TailSegment {
  length: number;
  records: NotedRecord[];
}

/** What the whole index says. */
export interface TailView {
  segments: Map<number, TailSegment>;
  /**
   * The highest sequence number of any durable post it names, cut ones included: an open makes
   * the store's sequence at least this, so an id once acknowledged is never handed out again.
   */
  maxSeq: number;
}

/** Folds entries, in file order, into what they say per segment. */
export function foldTailEntries(buffers: Buffer[]): TailView {
  const segments = new Map<number, TailSegment>();
  let maxSeq = 0;
  for (const buf of buffers) {
    for (const entry of entriesIn(buf)) {
      if (!Array.isArray(entry)) continue;
      const [kind, segment, length] = entry as [number, number, number];
      if (typeof segment !== 'number' || typeof length !== 'number') continue;
      const known = segments.get(segment) ?? { length: 0, records: [] };
      if (kind === KIND_CUT) {
        // Reported once already: what lay past the cut is forgotten, the segment starts again there.
        known.length = length;
        known.records = known.records.filter((r) => r.end <= length);
      } else if (kind === KIND_COMMIT) {
        if (length > known.length) known.length = length;
        for (const item of (entry[3] as unknown[]) ?? []) {
          const record = noteFrom(item);
          if (!record) continue;
          known.records.push(record);
          if (record.kind === 'post') maxSeq = Math.max(maxSeq, record.seq + record.count - 1);
        }
      } else {
        continue;
      }
      segments.set(segment, known);
    }
  }
  return { segments, maxSeq };
}

function noteFrom(item: unknown): NotedRecord | null {
  if (!Array.isArray(item)) return null;
  const [kind, project, queue, end] = item as [number, string, string, number];
  if (typeof project !== 'string' || typeof queue !== 'string' || typeof end !== 'number') return null;
  if (kind === NOTE_POST && typeof item[4] === 'number' && typeof item[5] === 'number') {
    return { kind: 'post', project, queue, end, seq: item[4] as number, count: item[5] as number };
  }
  if (kind === NOTE_DELETE && Array.isArray(item[4])) {
    return {
      kind: 'delete',
      project,
      queue,
      end,
      orders: (item[4] as unknown[]).filter((o): o is number => typeof o === 'number'),
    };
  }
  return null;
}

/** The decoded payloads of the intact entries of a file; a damaged stretch is skipped. */
function* entriesIn(buf: Buffer): Generator<unknown> {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(ENTRY_MAGIC, 0);
  let at = buf.indexOf(magic);
  while (at >= 0 && at + HEADER_BYTES <= buf.length) {
    const length = buf.readUInt32BE(at + 4);
    const end = at + HEADER_BYTES + length;
    if (end <= buf.length && crc32(buf.subarray(at + HEADER_BYTES, end)) === buf.readUInt32BE(at + 8)) {
      try {
        yield decodeValue(buf.subarray(at + HEADER_BYTES, end));
      } catch {
        // A checksum that matches a payload that does not decode: skip it like any damage.
      }
      at = buf.indexOf(magic, end);
    } else {
      at = buf.indexOf(magic, at + 1);
    }
  }
}

function frame(payload: unknown): Buffer {
  const body = encodeValue(payload);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  buf.writeUInt32BE(ENTRY_MAGIC, 0);
  buf.writeUInt32BE(body.length, 4);
  buf.writeUInt32BE(crc32(body), 8);
  body.copy(buf, HEADER_BYTES);
  return buf;
}

/** The calls the tail index makes: synchronous ones, in the fsync's callback (see above). */
export type TailIndexIo = Pick<
  FileIo,
  'readFile' | 'openSync' | 'closeSync' | 'writevSync' | 'unlinkSync' | 'renameSync' | 'statSync'
>;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Reads both files of the index in `logDir` (missing ones are empty: stores made before it). */
export async function readTailIndex(io: TailIndexIo, logDir: string): Promise<TailView> {
  const buffers: Buffer[] = [];
  for (const name of [TAIL_PREVIOUS_FILE, TAIL_INDEX_FILE]) {
    try {
      buffers.push(await io.readFile(join(logDir, name)));
    } catch {
      // Missing (a store made before the index) or unreadable: the index only adds what is detected.
    }
  }
  return foldTailEntries(buffers);
}

/**
 * The index's writer. Every call is synchronous, so entries land in the order they were made
 * and a rotation or a cut marker falls exactly between them. A failed call is logged (once) and
 * otherwise ignored: the log, not the index, holds what was acknowledged.
 */
export class TailIndex {
  private fd: number | null = null;
  /** Where the next entry goes in the current file. */
  private size = -1;
  private warned = false;
  private readonly path: string;
  private readonly previousPath: string;

  constructor(
    private readonly io: TailIndexIo,
    logDir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(logDir, TAIL_INDEX_FILE);
    this.previousPath = join(logDir, TAIL_PREVIOUS_FILE);
  }

  /** Notes a group commit: `segment` is durable up to `length`, with these records below it. */
  recordDurable(segment: number, length: number, records: NotedRecord[]): void {
    const items = records.map((r) =>
      r.kind === 'post'
        ? [NOTE_POST, r.project, r.queue, r.end, r.seq, r.count]
        : [NOTE_DELETE, r.project, r.queue, r.end, r.orders],
    );
    this.attempt(() => this.append(frame([KIND_COMMIT, segment, length, items])));
  }

  /** Notes that the log was found cut at `length` of `segment` (and reported): never report it again. */
  markCut(segment: number, length: number): void {
    this.attempt(() => this.append(frame([KIND_CUT, segment, length])));
  }

  /**
   * At a snapshot's start: what the index holds so far describes the log under the snapshot and
   * moves aside, to be dropped once the snapshot is durable. When an earlier snapshot failed its
   * entries are still aside, and the current file simply goes on (it then holds more, not less).
   */
  rotate(): void {
    this.attempt(() => {
      if (this.exists(this.previousPath)) return;
      this.closeFile();
      try {
        this.io.renameSync(this.path, this.previousPath);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    });
  }

  /** After the snapshot is durable: what was moved aside is redundant. */
  dropPrevious(): void {
    this.attempt(() => {
      try {
        this.io.unlinkSync(this.previousPath);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    });
  }

  close(): void {
    this.attempt(() => this.closeFile());
  }

  private attempt(operation: () => void): void {
    try {
      operation();
    } catch (error) {
      if (this.warned) return;
      this.warned = true;
      this.logger.warn(
        { file: this.path, err: (error as Error)?.message },
        'the tail index could not be written; a cut of the newest log records may go unreported',
      );
    }
  }

  private append(buf: Buffer): void {
    if (this.fd === null) {
      this.fd = this.io.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
      this.size = this.exists(this.path) ? this.io.statSync(this.path).size : 0;
    }
    let at = 0;
    try {
      while (at < buf.length) at += this.io.writevSync(this.fd, [buf.subarray(at)], this.size + at);
    } finally {
      // Past a short write too: the next entry must not land inside this one's remains.
      this.size += at;
    }
  }

  private closeFile(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) this.io.closeSync(fd);
  }

  private exists(path: string): boolean {
    try {
      this.io.statSync(path);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }
}
