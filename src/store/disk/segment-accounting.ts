import { type FileIo, StorageFullError } from '../../core/index.js';
import type { Effect, Row } from '../state/index.js';
import { refOffset, refSegment } from './record-codec.js';

/** Writes that need room for data keep this much of maxBytes free for deletes and compaction. */
const WRITE_RESERVE = 64 * 1024;
/**
 * Posts and relocations keep this much of the real disk free, so that on a full disk deletes,
 * claims and the small snapshots that let dead segments go can still be written: space is freed
 * by writing, and a disk filled to the last byte could never be emptied by the store.
 */
const DISK_RESERVE = 256 * 1024;
/** Free space is looked up again after this many ms, or at every write once it is near the reserve. */
const STATFS_EVERY_MS = 1_000;

/**
 * How the store's space is used: the bytes of live bodies in each log segment (what compaction
 * and dropping dead segments go by), and whether a write still has room, under the store's own
 * limit and on the disk.
 */
export class SegmentAccounting {
  /** Live body bytes per segment. */
  private live = new Map<number, number>();
  /** Free bytes of the disk at the last look (at, in ms of performance.now), and what the log wrote since. */
  private readonly diskFree = { bytes: Number.POSITIVE_INFINITY, at: Number.NEGATIVE_INFINITY, writtenSince: 0 };

  constructor(
    private readonly io: FileIo,
    /** The store's folder (named in errors) and its log folder (whose disk is looked at). */
    private readonly dir: string,
    private readonly logDir: string,
    /** Most bytes the store may use on disk. */
    private readonly maxBytes: number,
  ) {}

  /** Forgets every count (the state is being rebuilt). */
  reset(): void {
    this.live = new Map();
  }

  addLive(ref: number, len: number): void {
    const segment = refSegment(ref);
    this.live.set(segment, (this.live.get(segment) ?? 0) + len);
  }

  freeBody(ref: number, len: number): void {
    const segment = refSegment(ref);
    const left = (this.live.get(segment) ?? 0) - len;
    if (left > 0) this.live.set(segment, left);
    else this.live.delete(segment);
  }

  /**
   * Counts the live bytes per segment anew from the rows themselves (exact whatever the history),
   * and checks in the same pass that every body lies inside a segment that is there and long
   * enough (`sizeOf` answers a segment's length, undefined when it is missing). Answers the rows
   * counted and, per segment, the rows whose bodies are not all there.
   */
  recount(
    rows: Iterable<Row>,
    sizeOf: (segment: number) => number | undefined,
  ): { rows: number; lost: Map<number, Row[]> } {
    this.reset();
    let count = 0;
    const lost = new Map<number, Row[]>();
    for (const row of rows) {
      const ref = row.queue.cols.bodyRef[row.i] as number;
      const len = row.queue.cols.bodyLen[row.i] as number;
      this.addLive(ref, len);
      count++;
      const size = sizeOf(refSegment(ref));
      if (size !== undefined && refOffset(ref) + len <= size) continue;
      const no = refSegment(ref);
      const found = lost.get(no);
      if (found) found.push({ queue: row.queue, i: row.i });
      else lost.set(no, [{ queue: row.queue, i: row.i }]);
    }
    return { rows: count, lost };
  }

  liveIn(segment: number): number {
    return this.live.get(segment) ?? 0;
  }

  liveBytes(): number {
    let bytes = 0;
    for (const n of this.live.values()) bytes += n;
    return bytes;
  }

  /** Counts bytes the log is about to write against the free space last seen. */
  written(bytes: number): void {
    this.diskFree.writtenSince += bytes;
  }

  /**
   * Refuses an effect of `bytes` that would take the store past maxBytes (`used` tells what it
   * takes now, asked only when there is a limit); a write that needs room for data must leave
   * WRITE_RESERVE of it.
   */
  checkRoom(effect: Effect, bytes: number, used: () => number): void {
    if (this.maxBytes === Number.POSITIVE_INFINITY) return;
    const room = effect.type === 'post' || effect.type === 'relocate' ? this.maxBytes - WRITE_RESERVE : this.maxBytes;
    if (used() + bytes > room) {
      throw new StorageFullError(
        `the disk store in ${this.dir} is full: ${this.maxBytes} bytes allowed (this write needs ${bytes})`,
      );
    }
  }

  /**
   * Refuses a write that needs room for data when the disk has less than DISK_RESERVE left after
   * it. Free space is looked up (statfs) at most every STATFS_EVERY_MS while it is plentiful —
   * what the store itself writes meanwhile is counted against it — and at every such write once
   * it is near the reserve; real time, not the store's clock, since this only paces a syscall.
   */
  checkDiskRoom(bytes: number): void {
    const now = performance.now();
    const f = this.diskFree;
    if (now - f.at >= STATFS_EVERY_MS || f.bytes - f.writtenSince - bytes < 4 * DISK_RESERVE) {
      try {
        const fs = this.io.statfsSync(this.logDir);
        f.bytes = fs.bavail * fs.bsize;
      } catch {
        f.bytes = Number.POSITIVE_INFINITY; // a file system that cannot tell: the writes will say
      }
      f.at = now;
      f.writtenSince = 0;
    }
    if (f.bytes - f.writtenSince - bytes < DISK_RESERVE) {
      throw new StorageFullError(
        `the disk holding the store in ${this.dir} is full: ${Math.max(0, f.bytes - f.writtenSince)} bytes free, and ${DISK_RESERVE} are kept for deletes and compaction`,
      );
    }
  }
}
