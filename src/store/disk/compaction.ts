import { type FileIo, StorageFullError, syncDirWith } from '../../core/index.js';
import type { Relocate, Relocation, Row, StoreState } from '../state/index.js';
import { rawBody } from './body-reader.js';
import type { Journal } from './journal.js';
import { refSegment } from './record-codec.js';
import type { SegmentAccounting } from './segment-accounting.js';

/** A sealed segment less than half live is copied forward and dropped. */
const COMPACT_BELOW = 0.5;
/** Most bytes of bodies one relocation record carries. */
const RELOCATE_CHUNK = 4 * 1024 * 1024;

/** What compaction works on; read anew at every step, since a reload replaces the journal and state. */
export interface CompactionHost {
  readonly journal: Journal;
  readonly state: StoreState;
  readonly accounting: SegmentAccounting;
  /** Whether the store is closed, or its log failed: compaction stops. */
  stopped(): boolean;
  /** Sets aside messages whose bodies were found damaged. */
  setAsideDamaged(rows: Row[]): void;
  /** Logs and applies a relocation; resolves when it is durable. */
  relocate(effect: Relocate, bodies: Buffer[]): Promise<void>;
}

/**
 * Copies the live bodies of sparse sealed segments forward (a relocation record), so that once
 * nothing live is left in them the segments can go (dropDeadSegments).
 */
export class Compactor {
  private running = false;

  constructor(private readonly host: CompactionHost) {}

  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.compact();
    } finally {
      this.running = false;
    }
  }

  private async compact(): Promise<void> {
    const host = this.host;
    const sparse = new Set<number>();
    for (const segment of host.journal.segments.values()) {
      if (segment === host.journal.head || segment.size === 0) continue;
      const live = host.accounting.liveIn(segment.no);
      if (live > 0 && live < segment.size * COMPACT_BELOW) sparse.add(segment.no);
    }
    if (sparse.size === 0) return;
    // Remember messages by order key only: row indexes change while relocations await.
    const chunks: [string, string, number][][] = [[]];
    let bytes = 0;
    for (const { queue, i } of host.state.rows()) {
      if (!sparse.has(refSegment(queue.cols.bodyRef[i] as number))) continue;
      (chunks[chunks.length - 1] as [string, string, number][]).push([
        queue.project,
        queue.name,
        queue.cols.order[i] as number,
      ]);
      bytes += queue.cols.bodyLen[i] as number;
      if (bytes >= RELOCATE_CHUNK) {
        chunks.push([]);
        bytes = 0;
      }
    }
    for (const chunk of chunks) {
      if (host.stopped()) return;
      const entries: Relocation[] = [];
      const bodies: Buffer[] = [];
      for (const [project, name, order] of chunk) {
        const queue = host.state.find(project, name);
        const i = queue ? queue.cols.find(order) : -1;
        if (!queue || i < 0) continue; // deleted meanwhile
        const ref = queue.cols.bodyRef[i] as number;
        if (!sparse.has(refSegment(ref))) continue;
        const row: Row = { queue, i };
        const body = rawBody(host.journal, row);
        if (!body) {
          host.setAsideDamaged([row]); // never copy damage forward as if it were intact
          continue;
        }
        bodies.push(body);
        entries.push({ project, queue: name, order, ref: 0 });
      }
      if (entries.length === 0) continue;
      try {
        await host.relocate({ type: 'relocate', entries }, bodies);
      } catch (error) {
        // No room to copy bodies forward (a full disk): gc goes on with what frees space
        // without copying — snapshots, and dropping segments whose bodies are all dead.
        if (error instanceof StorageFullError && !host.journal.failed) return;
        throw error;
      }
    }
  }
}

/**
 * Drops the segments that may go: no live body is in them and both kept snapshots begin after
 * them (`olderSnapshotLsn` is the older one's), so the state can be rebuilt from either alone.
 */
export async function dropDeadSegments(
  io: FileIo,
  logDir: string,
  journal: Journal,
  accounting: SegmentAccounting,
  olderSnapshotLsn: number,
): Promise<void> {
  let dropped = false;
  for (const segment of [...journal.segments.values()]) {
    if (segment === journal.head || accounting.liveIn(segment.no) > 0) continue;
    if (segment.maxLsn > olderSnapshotLsn || segment.no >= journal.head.no) continue;
    // A segment whose unlink fails stays on disk, unused; the next open adopts it again.
    if (await journal.drop(segment.no).catch(() => undefined)) {
      await io.unlink(segment.path);
      dropped = true;
    }
  }
  if (dropped) await syncDirWith(io, logDir);
}
