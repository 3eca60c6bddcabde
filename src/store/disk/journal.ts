import { constants } from 'node:fs';
import { join } from 'node:path';
import {
  CorruptDataError,
  type FileIo,
  StorageFullError,
  StorageUnavailableError,
  syncDirWithSync,
} from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import { encodeSeal } from './record-codec.js';
import type { NotedRecord, TailNote } from './tail-index.js';

/**
 * Writes the buffers at `position`, carrying on after short writes. Writes are synchronous:
 * copying a batch into the page cache costs microseconds, less than handing it to the thread
 * pool; only the fsync, which waits for the device, runs off the main thread.
 */
function writeAll(io: FileIo, fd: number, buffers: Buffer[], position: number): void {
  let at = position;
  let rest = buffers;
  let left = buffers.reduce((n, b) => n + b.length, 0);
  while (left > 0) {
    // writev takes at most IOV_MAX (1024) buffers at once.
    const written = io.writevSync(fd, rest.length > 1024 ? rest.slice(0, 1024) : rest, at);
    // A write that makes no progress would loop forever: treat it as the disk being full.
    if (written <= 0) throw Object.assign(new Error('a write to the log wrote nothing'), { code: 'ENOSPC' });
    left -= written;
    at += written;
    if (left === 0) return;
    // A short write: carry on with what is left.
    let skip = written;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

export interface Segment {
  no: number;
  path: string;
  fd: number;
  /** Bytes in the segment, the unwritten ones included. */
  size: number;
  /** Bytes handed to the file system so far. */
  written: number;
  /** Bytes known to be on disk (fsynced). */
  durable: number;
  /** The highest log sequence number in the segment (0 when none). */
  maxLsn: number;
}

interface Chunk {
  segment: Segment;
  offset: number;
  buf: Buffer;
  lsn: number;
  /** What the tail index keeps of the record, if anything. */
  note?: TailNote | undefined;
}

interface Waiter {
  lsn: number;
  resolve(): void;
  reject(error: Error): void;
}

/** fdatasyncs of the log running at once (see Journal.flush). */
const MAX_SYNCS = 2;

export function segmentFileName(no: number): string {
  return `${String(no).padStart(10, '0')}.seg`;
}

/**
 * The write-ahead log: numbered segment files, appended to only. Records are buffered as they
 * are appended and written by one flusher; each flush ends with one fdatasync that acknowledges
 * every record it wrote — so writes arriving while an fsync runs share the next one (group
 * commit). A record is durable, and its writer acknowledged, only after its fsync.
 */
export class Journal {
  readonly segments = new Map<number, Segment>();
  head!: Segment;
  /** The last log sequence number handed out, and the last one known durable. */
  lsn = 0;
  durableLsn = 0;
  private pending: Chunk[] = [];
  private waiters: Waiter[] = [];
  private flushScheduled = false;
  /** fdatasyncs running now, and the segment they sync. */
  private syncing = 0;
  private syncingSegment: Segment | null = null;
  private failure: Error | null = null;
  /** Batches written whose durability is not yet noted and acknowledged, oldest first. */
  private unnoted: Chunk[][] = [];
  /**
   * Called when a batch is durable, with its segment, that segment's durable length and the
   * notes of its records, before the batch's writers are acknowledged (the tail index).
   */
  onDurable: ((segment: number, length: number, records: NotedRecord[]) => void) | null = null;
  /** Told how long each group commit's fsync took and how many records it made durable. */
  observer: StoreObserver | null = null;

  constructor(
    private readonly dir: string,
    private readonly io: FileIo,
    readonly segmentSize: number,
    /** New segments are numbered above this (the segment a snapshot starts replay in). */
    private readonly floor = 0,
  ) {}

  /** Opens an existing segment (at recovery), with its size as found. */
  async adopt(no: number, size: number, maxLsn: number): Promise<Segment> {
    const path = join(this.dir, segmentFileName(no));
    const fd = await this.io.open(path, constants.O_RDWR);
    const segment: Segment = { no, path, fd, size, written: size, durable: size, maxLsn };
    this.segments.set(no, segment);
    if (!this.head || no > this.head.no) this.head = segment;
    return segment;
  }

  /** Starts a new segment after the head (or the first one), made durable in the folder at once. */
  rotate(): Segment {
    const no = Math.max(this.head?.no ?? 0, this.floor) + 1;
    const path = join(this.dir, segmentFileName(no));
    let fd: number;
    try {
      fd = this.io.openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      // Nothing was made: the caller is refused and the log goes on as it was.
      throw asStorageError(error, `cannot create log segment ${path}`);
    }
    try {
      syncDirWithSync(this.io, this.dir);
    } catch (error) {
      // The file is there but its name may not be durable: nothing may be acknowledged in it.
      // Failing the log makes the owner reload, adopting the empty file and syncing the folder.
      try {
        this.io.closeSync(fd);
      } catch {
        // A failed close still frees the descriptor on Linux.
      }
      const failure = asStorageError(error, `cannot make log segment ${path} durable in its folder`);
      this.fail(failure);
      throw failure;
    }
    const previous = this.head;
    const segment: Segment = { no, path, fd, size: 0, written: 0, durable: 0, maxLsn: 0 };
    this.segments.set(no, segment);
    this.head = segment;
    // The new segment starts with the old one's length: a watermark an open checks the file by.
    if (previous && previous.size > 0) {
      this.append(encodeSeal(this.lsn, previous.no, previous.size), this.lsn).catch(() => {});
    }
    return segment;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Where the next record will start, after rotating when a record of `size` does not fit. */
  position(size: number): { segment: number; offset: number } {
    if (this.head.size > 0 && this.head.size + size > this.segmentSize) this.rotate();
    return { segment: this.head.no, offset: this.head.size };
  }

  /** Appends an encoded record made for position(); returns the durability promise. */
  append(buf: Buffer, lsn: number, note?: TailNote): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const segment = this.head;
    this.pending.push({ segment, offset: segment.size, buf, lsn, note });
    segment.size += buf.length;
    segment.maxLsn = lsn;
    this.lsn = lsn;
    const durable = new Promise<void>((resolve, reject) => this.waiters.push({ lsn, resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Let every write of this turn of the event loop join the flush.
      setImmediate(() => void this.flush());
    }
    return durable;
  }

  /** Resolves when everything appended so far is durable. */
  settled(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.durableLsn >= this.lsn) return Promise.resolve();
    const lsn = this.lsn;
    return new Promise<void>((resolve, reject) => this.waiters.push({ lsn, resolve, reject }));
  }

  /**
   * Bytes of a segment, from its file and, past what is written, from the buffers in hand.
   * Bytes that are not there (a segment gone or short) are CorruptDataError: damage. A read the
   * disk failed (EIO) is StorageUnavailableError: it proves nothing about the bytes, and may
   * succeed when tried again, so the caller must not take the message for damaged.
   */
  read(segmentNo: number, offset: number, length: number): Buffer {
    const segment = this.segments.get(segmentNo);
    if (!segment) throw new CorruptDataError(`log segment ${segmentNo} is gone`, { file: segmentFileName(segmentNo) });
    const buf = Buffer.allocUnsafe(length);
    const end = offset + length;
    // The file part; `written` only grows, and what is written is no longer among the buffers.
    const fromFile = Math.max(0, Math.min(end, segment.written) - offset);
    let done = 0;
    while (done < fromFile) {
      let n: number;
      try {
        n = this.io.readSync(segment.fd, buf, done, fromFile - done, offset + done);
      } catch (error) {
        throw asStorageError(error, `a read of log segment ${segment.path} failed`);
      }
      if (n === 0) {
        throw new CorruptDataError(`log segment ${segment.path} ends early at ${offset + done}`, {
          file: segment.path,
          start: offset + done,
          end,
        });
      }
      done += n;
    }
    if (done === length) return buf;
    for (const chunk of this.pending) {
      if (chunk.segment !== segment) continue;
      const from = Math.max(offset + done, chunk.offset);
      const to = Math.min(end, chunk.offset + chunk.buf.length);
      if (from >= to) continue;
      chunk.buf.copy(buf, from - offset, from - chunk.offset, to - chunk.offset);
      if (to === end) return buf;
    }
    throw new CorruptDataError(`bytes ${offset}..${end} of ${segment.path} are not in the log`, {
      file: segment.path,
      start: offset,
      end,
    });
  }

  /** Closes and forgets a segment (compaction). */
  async drop(no: number): Promise<Segment | undefined> {
    const segment = this.segments.get(no);
    if (!segment || segment === this.head) return undefined;
    this.segments.delete(no);
    await this.io.close(segment.fd);
    return segment;
  }

  /** Waits for the flusher to finish and closes every file (all of them, even after a failed close). */
  async close(): Promise<void> {
    await this.settled().catch(() => {});
    await this.closeAll();
  }

  /** Closes every segment's file and forgets it; throws the first failure after closing the rest. */
  async closeAll(): Promise<void> {
    let failure: unknown = null;
    for (const segment of [...this.segments.values()]) {
      this.segments.delete(segment.no);
      try {
        await this.io.close(segment.fd);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== null) throw asStorageError(failure, 'cannot close a log segment');
  }

  /**
   * Writes what is pending and starts an fdatasync for it, with up to MAX_SYNCS running at once:
   * records that arrive while one fsync runs need not wait for it to end before their own starts.
   * A batch is written (into the page cache) before its fsync starts, so every fsync makes all
   * bytes written before it durable; when one ends, every record up to its batch is acknowledged,
   * whatever earlier fsyncs are still doing. A segment gets bytes only once the previous one is
   * wholly durable, so after a crash a damaged stretch followed by an intact record anywhere is
   * real damage, never a torn tail.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0 && !this.failure && this.syncing < MAX_SYNCS) {
      const segment = (this.pending[0] as Chunk).segment;
      if (this.syncing > 0 && this.syncingSegment !== segment) return; // the earlier segment first
      let end = 0;
      while (end < this.pending.length && (this.pending[end] as Chunk).segment === segment) end++;
      const chunks = this.pending.slice(0, end);
      const tail = chunks[chunks.length - 1] as Chunk;
      try {
        writeAll(
          this.io,
          segment.fd,
          chunks.map((c) => c.buf),
          (chunks[0] as Chunk).offset,
        );
      } catch (error) {
        this.fail(asStorageError(error, 'a write to the log failed'));
        return;
      }
      this.pending = this.pending.slice(end);
      this.unnoted.push(chunks);
      segment.written = tail.offset + tail.buf.length;
      const written = segment.written;
      this.syncing++;
      this.syncingSegment = segment;
      const syncStarted = this.observer?.committed ? performance.now() : 0;
      this.io.fdatasync(segment.fd).then(
        () => {
          this.syncing--;
          if (this.failure) return;
          this.observer?.committed?.((performance.now() - syncStarted) / 1000, chunks.length);
          if (written > segment.durable) segment.durable = written;
          if (tail.lsn > this.durableLsn) this.durableLsn = tail.lsn;
          // This fsync made every batch written before it durable too, even those whose own
          // fsync has not ended yet: note and acknowledge them all now, in order.
          const at = this.unnoted.indexOf(chunks);
          if (at >= 0) {
            const batches = this.unnoted.splice(0, at + 1);
            this.onDurable?.(segment.no, written, notedRecords(batches.length === 1 ? chunks : batches.flat()));
            this.acknowledge(tail.lsn);
          }
          this.flush();
        },
        (error: unknown) => {
          this.syncing--;
          // Never retried: after a failed fsync the kernel may have dropped the dirty pages and
          // marked them clean, so a second fsync would succeed without the data (PostgreSQL's
          // "fsyncgate"). Nothing more is acknowledged; the owner cuts the log back to what was
          // durable and reloads.
          this.fail(asStorageError(error, 'an fsync of the log failed'));
        },
      );
    }
  }

  /** Resolves the writers of every record up to `lsn` (durable by then). */
  private acknowledge(lsn: number): void {
    let done = 0;
    while (done < this.waiters.length && (this.waiters[done] as Waiter).lsn <= lsn) done++;
    for (const w of this.waiters.splice(0, done)) w.resolve();
  }

  /** After a failed write nothing more is acknowledged; the owner recovers from what is durable. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiters.splice(0)) w.reject(error);
    this.pending = [];
    this.unnoted = [];
  }

  /** How far each segment is durable: the owner cuts the files back to this when it recovers. */
  durableSizes(): Map<number, number> {
    const sizes = new Map<number, number>();
    for (const segment of this.segments.values()) sizes.set(segment.no, segment.durable);
    return sizes;
  }
}

/**
 * The notes of the records in these chunks, with where each ends. Written out field by field: an
 * object spread here was 6% of the CPU of single-message posts (a note per record, every commit).
 */
function notedRecords(chunks: Chunk[]): NotedRecord[] {
  const records: NotedRecord[] = [];
  for (const c of chunks) {
    const note = c.note;
    if (!note) continue;
    const end = c.offset + c.buf.length;
    records.push(
      note.kind === 'post'
        ? { kind: 'post', project: note.project, queue: note.queue, seq: note.seq, count: note.count, end }
        : { kind: 'delete', project: note.project, queue: note.queue, orders: note.orders, end },
    );
  }
  return records;
}

export function asStorageError(error: unknown, what: string): Error {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new StorageFullError(`${what}: the disk is full (${code})`, { cause: error });
  }
  if (error instanceof StorageFullError || error instanceof StorageUnavailableError) return error;
  return new StorageUnavailableError(`${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Cuts a log file to `size` bytes; with `durable`, fsynced so that the cut holds after a crash. */
export async function truncateFile(io: FileIo, path: string, size: number, durable = false): Promise<void> {
  const fd = await io.open(path, constants.O_RDWR);
  try {
    await io.ftruncate(fd, size);
    if (durable) await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
}
