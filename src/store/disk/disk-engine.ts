import { join, resolve } from 'node:path';
import {
  type Capability,
  type Clock,
  ClosedError,
  DamagedMessageError,
  type FileIo,
  FolderLock,
  type GcReport,
  type Logger,
  type Message,
  type ProjectId,
  syncDirWith,
  type Timer,
} from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import {
  ColumnarEngine,
  type Effect,
  type MessageIdCodec,
  type MessagesDelete,
  type Relocate,
  type Row,
  type StoreState,
} from '../state/index.js';
import { DAMAGED, loadBodies, markBodyCrc } from './body-reader.js';
import { Compactor, dropDeadSegments } from './compaction.js';
import { DamageLedger, type DamageReport, type SetAsideMessage } from './damage-ledger.js';
import { asStorageError, Journal, truncateFile } from './journal.js';
import { replayLog } from './log-replay.js';
import { encodeEffect, encodePost, encodeRelocate } from './record-codec.js';
import { SegmentAccounting } from './segment-accounting.js';
import { SetAside } from './set-aside.js';
import { SnapshotKeeper } from './snapshot-keeper.js';
import { readStoreIdentity } from './store-identity.js';
import { readTailIndex, TailIndex, type TailView, tailNoteOf } from './tail-index.js';

const DISK_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>([
  'FIFO',
  'CLAIMS',
  'DURABILITY',
  'AOD',
  'HIGH_THROUGHPUT',
]);

export interface DiskEngineOptions {
  dir: string;
  clock: Clock;
  logger: Logger;
  /** Every file operation of the store goes through it (tests put a faulty one in its place). */
  io: FileIo;
  /** Largest log segment file, in bytes. */
  segmentSize: number;
  /** Most bytes the store may use on disk; writes beyond it fail with StorageFullError. */
  maxBytes: number;
  /** How often gc runs by itself, in ms of the clock (0: never). */
  gcIntervalMs: number;
  /** Told of group commits, dead-letter moves and expired messages (the server's metrics). */
  observer?: StoreObserver | null;
}

/** What the last open (or reload) of the store did. */
export interface OpenStats {
  /** The log sequence number of the snapshot it started from (0: none). */
  snapshotLsn: number;
  /** Log records replayed after the snapshot. */
  replayedRecords: number;
  /** Bytes of log read to replay them. */
  replayedBytes: number;
  /** Live messages after opening. */
  messages: number;
}

export interface DiskUsage {
  /** Every byte the store's files take: log segments and snapshots. */
  bytes: number;
  segments: number;
  snapshotBytes: number;
  /** Bytes of bodies of messages still live. */
  liveBodyBytes: number;
}

/**
 * The embedded disk store. Its state lives in memory as columns (about 60 bytes a message,
 * bodies excepted); every change is an effect appended to a log of segment files with a CRC per
 * record and acknowledged only after the fsync that covers it (group commit). Bodies stay in the
 * log where they were written and are read back when asked for. Snapshots of the state let an
 * open replay only the log written since; segments whose bodies are all dead are dropped once
 * two snapshots cover them, and sparse ones are compacted by copying their live bodies forward.
 *
 *   <dir>/.lock            the owner (FolderLock)
 *   <dir>/store.json       format and id salt, written once
 *   <dir>/log/*.seg        the log
 *   <dir>/log/tail*.idx    how far the log was durable, and what it held there (tail-index.ts)
 *   <dir>/snapshots/*.snap the two newest snapshots
 *   <dir>/scratch/         files being written, renamed into place when whole
 *   <dir>/damage.log       every damaged stretch found at open, as JSON lines
 *
 * This class opens, commits, reloads after a failed write, and closes; the rest lies beside it:
 * journal.ts writes the log, log-reader.ts and log-replay.ts read it back, snapshot-keeper.ts
 * takes and keeps snapshots, compaction.ts and segment-accounting.ts manage the space.
 */
export class DiskEngine extends ColumnarEngine {
  readonly kind = 'disk';
  readonly capabilities = DISK_CAPABILITIES;
  protected state!: StoreState;
  readonly dir: string;
  private readonly logDir: string;
  private readonly snapshotDir: string;
  private readonly scratchDir: string;
  private journal!: Journal;
  private ids!: MessageIdCodec;
  private lock: FolderLock | null = null;
  private readonly accounting: SegmentAccounting;
  private readonly compactor: Compactor;
  private readonly snapshots: SnapshotKeeper;
  private readonly damage: DamageLedger;
  private readonly aside: SetAside;
  private closed = false;
  /**
   * Set while the state in memory cannot be trusted: a write failed and the reload from disk has
   * not yet succeeded (it is tried again by the next call). Nothing is served or acknowledged.
   */
  private reloadNeeded: Error | null = null;
  /** Log files to cut back to what was durable before reloading (kept until done, if a cut fails). */
  private cuts = new Map<string, number>();
  private recovering: Promise<void> | null = null;
  private gcTimer: Timer | null = null;
  private opened: OpenStats = { snapshotLsn: 0, replayedRecords: 0, replayedBytes: 0, messages: 0 };
  /** The tail index: what the log held when each group commit was durable (see tail-index.ts). */
  private tail!: TailIndex;
  private tailView: TailView = { segments: new Map(), maxSeq: 0 };
  /** Acknowledged deletes the log lost, done again once the log can be written (see load). */
  private lostDeletes: MessagesDelete[] = [];

  private constructor(private readonly options: DiskEngineOptions) {
    super(options.clock);
    this.dir = resolve(options.dir);
    this.logDir = join(this.dir, 'log');
    this.snapshotDir = join(this.dir, 'snapshots');
    this.scratchDir = join(this.dir, 'scratch');
    this.damage = new DamageLedger(options.io, this.dir, options.logger);
    this.accounting = new SegmentAccounting(options.io, this.dir, this.logDir, options.maxBytes);
    const engine = this;
    this.aside = new SetAside({
      dir: this.dir,
      logDir: this.logDir,
      logger: options.logger,
      damage: this.damage,
      get journal() {
        return engine.journal;
      },
      get ids() {
        return engine.ids;
      },
      commit: (effect) => this.commit(effect),
    });
    this.compactor = new Compactor({
      get journal() {
        return engine.journal;
      },
      get state() {
        return engine.state;
      },
      accounting: this.accounting,
      stopped: () => this.closed || this.journal.failed !== null,
      setAsideDamaged: (rows) => this.aside.damagedOnRead(rows),
      relocate: (effect, bodies) => this.commit(effect, bodies),
    });
    this.snapshots = new SnapshotKeeper({
      io: options.io,
      dir: this.dir,
      snapshotDir: this.snapshotDir,
      scratchDir: this.scratchDir,
      logger: options.logger,
      segmentSize: options.segmentSize,
      damage: this.damage,
      get journal() {
        return engine.journal;
      },
      get state() {
        return engine.state;
      },
      get tail() {
        return engine.tail;
      },
      canSnapshot: () => !this.closed && !this.journal.failed,
      dropDeadSegments: () => this.dropDeadSegments(),
    });
  }

  static async open(options: DiskEngineOptions): Promise<DiskEngine> {
    const engine = new DiskEngine(options);
    const io = options.io;
    try {
      await io.mkdir(engine.dir, { recursive: true });
    } catch (error) {
      throw asStorageError(error, `cannot create the store folder ${engine.dir}`);
    }
    engine.lock = FolderLock.acquire(engine.dir, '.lock', io);
    try {
      for (const d of [engine.logDir, engine.snapshotDir, engine.scratchDir]) await io.mkdir(d, { recursive: true });
      // Leftovers of writes cut short by a crash: never renamed into place, so never valid.
      for (const f of await io.readdir(engine.scratchDir)) await io.unlink(join(engine.scratchDir, f));
      engine.ids = await readStoreIdentity(io, engine.dir, engine.scratchDir);
      engine.tailView = await readTailIndex(io, engine.logDir);
      await engine.load();
      engine.scheduleGc();
    } catch (error) {
      await engine.journal?.closeAll().catch(() => {});
      engine.lock.release();
      throw asStorageError(error, `cannot open the disk store in ${engine.dir}`);
    }
    return engine;
  }

  /** Damage found when the store was opened (also in damage.log and the log lines). */
  damageReports(): DamageReport[] {
    return this.damage.copies();
  }

  /** Messages set aside because their bodies could not be read intact (also in damage.log). */
  setAside(): SetAsideMessage[] {
    return [...this.damage.setAside.values()].map((m) => ({ ...m }));
  }

  openStats(): OpenStats {
    return { ...this.opened };
  }

  usage(): DiskUsage {
    let bytes = 0;
    for (const s of this.journal.segments.values()) bytes += s.size;
    const snapshotBytes = this.snapshots.bytes;
    const liveBodyBytes = this.accounting.liveBytes();
    return { bytes: bytes + snapshotBytes, segments: this.journal.segments.size, snapshotBytes, liveBodyBytes };
  }

  // --- opening ------------------------------------------------------------------------------

  /** Builds the state from the newest readable snapshot and the log after it. */
  private async load(): Promise<void> {
    const io = this.options.io;
    this.accounting.reset();
    const freed = (ref: number, len: number) => this.accounting.freeBody(ref, len);
    const { state, position } = await this.snapshots.load(this.ids, freed);
    this.state = state;
    this.journal = new Journal(this.logDir, io, this.options.segmentSize, position.segment);
    this.tail = new TailIndex(io, this.logDir, this.options.logger);
    this.journal.onDurable = (segment, length, records) => this.tail.recordDurable(segment, length, records);
    this.opened = { snapshotLsn: position.lsn, replayedRecords: 0, replayedBytes: 0, messages: 0 };
    const replayed = await replayLog(
      {
        io,
        logDir: this.logDir,
        logger: this.options.logger,
        journal: this.journal,
        state: this.state,
        ids: this.ids,
        tailView: this.tailView,
        tail: this.tail,
        damage: this.damage,
      },
      position,
    );
    this.opened.replayedRecords = replayed.records;
    this.opened.replayedBytes = replayed.bytes;
    this.lostDeletes.push(...replayed.lostDeletes);
    for (const damage of this.damage.reports) this.damage.persist(damage);
    await this.damage.settled();
    this.journal.lsn = replayed.lsn;
    this.journal.durableLsn = replayed.lsn;
    // Watched from here on: what the replay did happened before this process started.
    this.journal.observer = this.options.observer ?? null;
    this.state.observer = this.options.observer ?? null;
    const { rows, lost } = this.accounting.recount(this.state.rows(), (no) => this.journal.segments.get(no)?.size);
    this.opened.messages = rows;
    if (!this.journal.head) this.journal.rotate();
    if (lost.size > 0) this.aside.missingBodies(lost);
    this.reapplyLostDeletes();
    // What was just replayed is log the last snapshot does not cover: it counts toward the next.
    this.snapshots.count(this.opened.replayedBytes, true);
  }

  /** Only intact messages are answered; damaged ones are reported and set aside. */
  protected override messages(rows: Row[], now: number): Message[] {
    const bodies = this.loadBodies(rows);
    const out: Message[] = [];
    const damaged: Row[] = [];
    rows.forEach((row, k) => {
      if (bodies[k] === DAMAGED) damaged.push(row);
      else out.push(this.state.message(row, bodies[k], now));
    });
    if (damaged.length > 0) this.aside.damagedOnRead(damaged);
    return out;
  }

  override async getMessage(project: ProjectId, queue: string, id: string): Promise<Message> {
    const message = await super.getMessage(project, queue, id);
    if (message) return message;
    throw new DamagedMessageError(
      `message ${id} in queue ${queue} is damaged (its stored body failed its checksum) and was set aside`,
      id,
      queue,
    );
  }

  override async firstMessage(project: ProjectId, queue: string, end: 'oldest' | 'newest'): Promise<Message | null> {
    // A damaged first message is set aside by the read, so asking again finds its neighbour.
    for (;;) {
      const before = this.damage.setAside.size;
      const message = await super.firstMessage(project, queue, end);
      if (message || this.damage.setAside.size === before) return message ?? null;
    }
  }

  /**
   * An acknowledged delete or pop whose record was cut is done again: the client was told the
   * message is gone, so serving it again would undo an acknowledged write; a delete is
   * idempotent, and its new record makes the next open agree.
   */
  private reapplyLostDeletes(): void {
    for (const effect of this.lostDeletes.splice(0)) {
      try {
        this.commit(effect).catch(() => {});
      } catch (error) {
        this.options.logger.warn({ dir: this.dir, err: (error as Error).message }, 'cannot redo a lost delete');
      }
    }
  }

  // --- commit -------------------------------------------------------------------------------

  protected commit(effect: Effect, bodies?: Buffer[]): Promise<void> {
    const journal = this.journal;
    if (this.reloadNeeded) throw this.reloadNeeded;
    if (journal.failed) throw journal.failed;
    const lsn = journal.lsn + 1;
    let buf = this.encode(effect, lsn, bodies, journal.head.no, journal.head.size);
    this.accounting.checkRoom(effect, buf.length, () => this.usage().bytes);
    if (effect.type === 'post' || effect.type === 'relocate') this.accounting.checkDiskRoom(buf.length);
    const before = journal.head.no;
    const position = journal.position(buf.length);
    if (position.segment !== before) buf = this.encode(effect, lsn, bodies, position.segment, position.offset);
    const oldRefs = effect.type === 'relocate' ? this.currentRefs(effect) : null;
    this.state.apply(effect);
    markBodyCrc(this.state, effect); // every post and relocation written now has a CRC before each body
    if (effect.type === 'post') {
      // One segment holds the whole record: count its bodies once.
      let bytes = 0;
      for (const m of effect.messages) bytes += m.length;
      if (effect.messages.length > 0) this.accounting.addLive((effect.messages[0] as { ref: number }).ref, bytes);
    } else if (oldRefs) {
      (effect as Relocate).entries.forEach(({ ref }, k) => {
        const old = oldRefs[k];
        if (old) {
          this.accounting.freeBody(old[0], old[1]);
          this.accounting.addLive(ref, old[1]);
        }
      });
    }
    this.accounting.written(buf.length);
    const durable = journal.append(buf, lsn, tailNoteOf(effect));
    this.snapshots.count(buf.length);
    return durable;
  }

  private encode(effect: Effect, lsn: number, bodies: Buffer[] | undefined, segment: number, offset: number): Buffer {
    if (effect.type === 'post') return encodePost(effect, lsn, bodies as Buffer[], segment, offset);
    if (effect.type === 'relocate') return encodeRelocate(effect, lsn, bodies as Buffer[], segment, offset);
    return encodeEffect(effect, lsn);
  }

  private currentRefs(effect: Relocate): ([number, number] | null)[] {
    return effect.entries.map(({ project, queue: name, order }) => {
      const queue = this.state.find(project, name);
      const i = queue ? queue.cols.find(order) : -1;
      return queue && i >= 0 ? [queue.cols.bodyRef[i] as number, queue.cols.bodyLen[i] as number] : null;
    });
  }

  protected loadBodies(rows: Row[]): unknown[] {
    return loadBodies(this.journal, rows);
  }

  protected settled(): Promise<void> {
    return this.journal.settled();
  }

  protected async ready(): Promise<void> {
    if (this.closed) throw new ClosedError(`disk store ${this.dir}`);
    if ((this.journal.failed || this.reloadNeeded) && !this.recovering) this.recovering = this.recover();
    if (this.recovering) await this.recovering;
  }

  /**
   * After a failed write: forget what was not acknowledged by cutting the log back to what is
   * known durable and rebuilding the state from disk. Reads and writes wait meanwhile.
   */
  private async recover(): Promise<void> {
    const io = this.options.io;
    const failure = this.reloadNeeded ?? this.journal.failed;
    this.options.logger.error(
      { dir: this.dir, err: failure?.message },
      this.reloadNeeded ? 'reloading the store from disk again' : 'a write failed; reloading the store from disk',
    );
    this.reloadNeeded ??= failure;
    try {
      await this.snapshots.writing;
      // What the failed journal wrote past its last fsync was never acknowledged: cut it off, so
      // that a later fsync cannot make it durable and the reload cannot bring it back.
      if (this.journal.segments.size > 0) {
        const sizes = this.journal.durableSizes();
        for (const segment of this.journal.segments.values()) {
          this.cuts.set(segment.path, sizes.get(segment.no) ?? segment.durable);
        }
        await this.journal.closeAll().catch(() => {}); // every descriptor is gone either way
      }
      for (const [path, size] of this.cuts) {
        await truncateFile(io, path, size, true);
        this.cuts.delete(path);
      }
      this.tail.close();
      this.tailView = await readTailIndex(io, this.logDir);
      await this.load();
      // A segment made before the failure may not be durable in the folder yet (its fsync failed).
      await syncDirWith(io, this.logDir);
      this.reloadNeeded = null;
      this.options.logger.warn({ dir: this.dir }, 'the store was reloaded from disk and works again');
    } catch (error) {
      await this.journal.closeAll().catch(() => {});
      throw asStorageError(error, `cannot reload the disk store in ${this.dir}`);
    } finally {
      this.recovering = null;
    }
  }

  // --- upkeep -------------------------------------------------------------------------------

  private scheduleGc(): void {
    if (this.options.gcIntervalMs <= 0 || this.closed) return;
    this.gcTimer = this.clock.setTimer(this.options.gcIntervalMs, () => {
      this.gc()
        .catch((error) => this.options.logger.warn({ dir: this.dir, err: (error as Error).message }, 'gc failed'))
        .finally(() => this.scheduleGc());
    });
  }

  async isAlive(): Promise<boolean> {
    return !this.closed && !this.journal.failed && !this.reloadNeeded;
  }

  async gc(): Promise<GcReport> {
    await this.ready();
    const report = this.state.gc(this.clock.now());
    await this.compactor.run();
    // A snapshot already being written is waited for: the segments it frees are dropped below.
    const writing = this.snapshots.writing;
    if (writing) await writing;
    else if (this.snapshots.isDue) await this.snapshots.take();
    await this.dropDeadSegments();
    return report;
  }

  /**
   * A segment may go when no live body is in it and both kept snapshots begin after it, so the
   * state can be rebuilt from either snapshot alone.
   */
  private async dropDeadSegments(): Promise<void> {
    const older = this.snapshots.olderLsn;
    if (older === null || this.journal.failed || this.reloadNeeded) return;
    await dropDeadSegments(this.options.io, this.logDir, this.journal, this.accounting, older);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gcTimer?.cancel();
    try {
      await this.recovering?.catch(() => {});
      await this.snapshots.writing;
      if (!this.journal.failed && !this.reloadNeeded) {
        await this.journal.settled().catch(() => {});
        // A snapshot at close makes the next open replay nothing.
        if (this.journal.lsn > this.snapshots.newestLsn) await this.snapshots.take().catch(() => {});
      }
      await this.journal.close();
      this.tail.close();
      await this.damage.settled();
    } finally {
      this.lock?.release();
    }
  }
}
