import { CorruptDataError, type FileIo, type Logger } from '../../core/index.js';
import { type BodyFreed, type MessageIdCodec, StoreState } from '../state/index.js';
import type { DamageLedger } from './damage-ledger.js';
import type { Journal } from './journal.js';
import { captureSnapshot, type LogPosition, listSnapshots, readSnapshot, writeSnapshot } from './snapshot.js';
import type { TailIndex } from './tail-index.js';

/** What the keeper works with; the journal, state and tail index are read anew (a reload replaces them). */
export interface SnapshotHost {
  readonly io: FileIo;
  readonly dir: string;
  readonly snapshotDir: string;
  readonly scratchDir: string;
  readonly logger: Logger;
  readonly segmentSize: number;
  readonly damage: DamageLedger;
  readonly journal: Journal;
  readonly state: StoreState;
  readonly tail: TailIndex;
  /** Whether a snapshot may be started now (the store is open and its log works). */
  canSnapshot(): boolean;
  /** Drops the log segments the kept snapshots no longer need. */
  dropDeadSegments(): Promise<void>;
}

interface KeptSnapshot {
  lsn: number;
  path: string;
  bytes: number;
}

/**
 * When snapshots are taken and which are kept. A snapshot is taken once the log has grown by a
 * segment, or by twice the last snapshot's size if that is more, so that snapshots never cost
 * more than a third of the writing; the two newest are kept, so that a damaged newest one still
 * leaves one to open from.
 */
export class SnapshotKeeper {
  /** The kept snapshots, newest first. */
  private kept: KeptSnapshot[] = [];
  private bytesSince = 0;
  private every: number;
  private running: Promise<void> | null = null;
  private due = false;

  constructor(private readonly host: SnapshotHost) {
    this.every = host.segmentSize;
  }

  /** The snapshot being written, if one is (it never rejects). */
  get writing(): Promise<void> | null {
    return this.running;
  }

  /** Bytes the kept snapshots take. */
  get bytes(): number {
    return this.kept.reduce((n, s) => n + s.bytes, 0);
  }

  /** The newest kept snapshot's log sequence number (0: none). */
  get newestLsn(): number {
    return this.kept[0]?.lsn ?? 0;
  }

  /** The older of the two kept snapshots' log sequence number, or null while fewer are kept. */
  get olderLsn(): number | null {
    const older = this.kept[this.kept.length - 1];
    return this.kept.length < 2 || !older ? null : older.lsn;
  }

  /** Whether the log has grown enough since the last snapshot for another. */
  get isDue(): boolean {
    return this.bytesSince >= this.every;
  }

  /**
   * The state of the newest readable snapshot (or an empty one) and where the log after it
   * starts. A damaged snapshot is reported, moved aside and an older one tried.
   */
  async load(ids: MessageIdCodec, freed: BodyFreed): Promise<{ state: StoreState; position: LogPosition }> {
    const { io, damage } = this.host;
    let state = new StoreState(ids, freed);
    let position: LogPosition = { lsn: 0, segment: 0, offset: 0 };
    this.kept = [];
    const found = await listSnapshots(io, this.host.snapshotDir);
    const movedAside = new Set<string>();
    for (const snap of found) {
      try {
        const loaded = await readSnapshot(io, snap.path, ids, freed);
        state = loaded.state;
        position = loaded.position;
        break;
      } catch (error) {
        if (!(error instanceof CorruptDataError)) throw error;
        damage.reports.push({
          file: `${snap.path}.damaged`,
          start: 0,
          end: (await io.stat(snap.path)).size,
          lostMessageIds: [],
          note: 'snapshot is damaged (moved aside); an older snapshot or the log is used instead',
        });
        await io.rename(snap.path, `${snap.path}.damaged`);
        movedAside.add(snap.path);
      }
    }
    for (const snap of found) {
      if (snap.lsn <= position.lsn && !movedAside.has(snap.path))
        this.kept.push({ ...snap, bytes: (await io.stat(snap.path)).size });
    }
    if (found.length > 0 && position.lsn === 0 && this.kept.length === 0) {
      this.host.logger.error(
        { dir: this.host.dir },
        'no snapshot could be read: the state is rebuilt from the log alone',
      );
    }
    return { state, position };
  }

  /**
   * Counts log bytes no snapshot covers yet, and snapshots soon when they are enough. At open the
   * replayed log counts too: counting from 0 at every open, a store killed before it wrote a
   * segment's worth in one life never snapshotted, and each restart replayed more.
   */
  count(bytes: number, reopened = false): void {
    if (reopened) {
      this.bytesSince = bytes;
      if (this.isDue) this.soon();
      return;
    }
    this.bytesSince += bytes;
    if (this.isDue && !this.running && !this.due) this.soon();
  }

  /**
   * Takes a snapshot of the state as it is now, writes it once the log under it is durable,
   * keeps the two newest, and drops log segments no longer needed.
   */
  take(): Promise<void> {
    const host = this.host;
    const journal = host.journal;
    const position: LogPosition = { lsn: journal.lsn, segment: journal.head.no, offset: journal.head.size };
    const parts = captureSnapshot(host.state, position);
    const tail = host.tail;
    tail.rotate(); // what the index holds now lies under this snapshot
    this.bytesSince = 0;
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    const run = (async () => {
      await journal.settled();
      const io = host.io;
      const path = await writeSnapshot(io, host.snapshotDir, host.scratchDir, position.lsn, parts);
      tail.dropPrevious();
      if (this.kept[0]?.path !== path) this.kept.unshift({ lsn: position.lsn, path, bytes });
      for (const old of this.kept.splice(2)) {
        // Not unlinked: still there at the next open, which then simply has one more to choose from.
        await io.unlink(old.path).catch(() => {});
      }
      this.every = Math.max(host.segmentSize, 2 * bytes);
      await host.dropDeadSegments();
    })();
    this.running = run
      .catch((error) => {
        host.logger.warn({ dir: host.dir, err: (error as Error).message }, 'a snapshot could not be written');
      })
      .finally(() => {
        this.running = null;
      });
    return run;
  }

  /** Not at once: the caller may still be reading rows of the operation being committed. */
  private soon(): void {
    this.due = true;
    setImmediate(() => {
      this.due = false;
      if (!this.running && this.host.canSnapshot()) void this.take().catch(() => {});
    });
  }
}
