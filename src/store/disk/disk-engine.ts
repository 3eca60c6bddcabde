import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  type Capability,
  type Clock,
  ClosedError,
  CorruptDataError,
  DamagedMessageError,
  decodeValue,
  type FileIo,
  FolderLock,
  type GcReport,
  type Logger,
  type Message,
  type ProjectId,
  StorageFullError,
  StorageUnavailableError,
  syncDirWith,
  type Timer,
} from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import {
  ColumnarEngine,
  type Effect,
  FLAG_BODY_CRC,
  MessageIdCodec,
  type Relocate,
  type Row,
  StoreState,
  seqRange,
} from '../state/index.js';
import { asStorageError, Journal, segmentFileName } from './journal.js';
import {
  BODY_CRC_BYTES,
  decodeRecord,
  decodeSeal,
  encodeEffect,
  encodePost,
  encodeRelocate,
  HEADER_BYTES,
  RECORD_MAGIC,
  refOffset,
  refSegment,
  validFrameAt,
} from './record-codec.js';
import { captureSnapshot, type LogPosition, listSnapshots, readSnapshot, writeSnapshot } from './snapshot.js';
import { findTailLosses } from './tail-check.js';
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

/** A damaged stretch of a file found at open: what was lost and where. */
export interface DamageReport {
  file: string;
  start: number;
  end: number;
  /** Ids of messages whose posts were in the damaged bytes, as far as they can be told. */
  lostMessageIds: string[];
  /** Ids of messages whose acknowledged delete (or pop) was lost with the damage and was done again. */
  reappliedDeleteIds?: string[];
  note: string;
}

/** A message whose body could not be read intact: no longer served, listed or claimed. */
export interface SetAsideMessage {
  project: string;
  queue: string;
  id: string;
  /** Why: the body failed its checksum, its segment is missing, or it lies past the segment's end. */
  reason: string;
}

/** loadBodies' answer for a row whose body is damaged. */
const DAMAGED: unique symbol = Symbol('damaged body');

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

interface StoreIdentity {
  format: 1;
  tag: number;
  salt: number;
}

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
/** A sealed segment less than half live is copied forward and dropped. */
const COMPACT_BELOW = 0.5;
/** Most bytes of bodies one relocation record carries. */
const RELOCATE_CHUNK = 4 * 1024 * 1024;

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
  /** Live body bytes per segment. */
  private live = new Map<number, number>();
  private snapshots: { lsn: number; path: string; bytes: number }[] = [];
  private bytesSinceSnapshot = 0;
  private snapshotEvery: number;
  private snapshotting: Promise<void> | null = null;
  private snapshotDue = false;
  private compacting = false;
  private readonly damage: DamageReport[] = [];
  /** Messages set aside because their bodies are damaged, keyed project/queue/id. */
  private readonly setAsideMessages = new Map<string, SetAsideMessage>();
  private closed = false;
  /** Free bytes of the disk at the last look (at, in ms of performance.now), and what the log wrote since. */
  private readonly diskFree = { bytes: Number.POSITIVE_INFINITY, at: Number.NEGATIVE_INFINITY, writtenSince: 0 };
  /** The appends to damage.log, in order. */
  private damageWritten: Promise<void> = Promise.resolve();
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
  private lostDeletes: Effect[] = [];

  private constructor(private readonly options: DiskEngineOptions) {
    super(options.clock);
    this.dir = resolve(options.dir);
    this.logDir = join(this.dir, 'log');
    this.snapshotDir = join(this.dir, 'snapshots');
    this.scratchDir = join(this.dir, 'scratch');
    this.snapshotEvery = options.segmentSize;
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
      engine.ids = await engine.identity();
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
    return this.damage.map((d) => ({
      ...d,
      lostMessageIds: [...d.lostMessageIds],
      ...(d.reappliedDeleteIds ? { reappliedDeleteIds: [...d.reappliedDeleteIds] } : {}),
    }));
  }

  /** Messages set aside because their bodies could not be read intact (also in damage.log). */
  setAside(): SetAsideMessage[] {
    return [...this.setAsideMessages.values()].map((m) => ({ ...m }));
  }

  openStats(): OpenStats {
    return { ...this.opened };
  }

  usage(): DiskUsage {
    let bytes = 0;
    for (const s of this.journal.segments.values()) bytes += s.size;
    const snapshotBytes = this.snapshots.reduce((n, s) => n + s.bytes, 0);
    let liveBodyBytes = 0;
    for (const n of this.live.values()) liveBodyBytes += n;
    return { bytes: bytes + snapshotBytes, segments: this.journal.segments.size, snapshotBytes, liveBodyBytes };
  }

  // --- opening ------------------------------------------------------------------------------

  private async identity(): Promise<MessageIdCodec> {
    const io = this.options.io;
    const path = join(this.dir, 'store.json');
    let text: string | null = null;
    try {
      text = (await io.readFile(path)).toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === null) {
      const salt = randomBytes(8);
      const identity: StoreIdentity = { format: 1, tag: salt.readUInt32BE(0), salt: salt.readUInt32BE(4) };
      text = JSON.stringify(identity);
      // Written whole in scratch and renamed into place: store.json is either whole or missing.
      const tmp = join(this.scratchDir, 'store.json');
      const data = Buffer.from(text);
      const fd = await io.open(tmp, 'w', 0o644);
      try {
        for (let at = 0; at < data.length; ) {
          const written = await io.write(fd, data, at, data.length - at);
          if (written <= 0) throw new StorageUnavailableError(`a write of ${tmp} wrote nothing`);
          at += written;
        }
        await io.fdatasync(fd);
      } finally {
        await io.close(fd);
      }
      await io.rename(tmp, path);
      await syncDirWith(io, this.dir);
    }
    let identity: StoreIdentity;
    try {
      identity = JSON.parse(text) as StoreIdentity;
    } catch (error) {
      throw new CorruptDataError(`${path} cannot be read`, { file: path }, { cause: error });
    }
    if (identity.format !== 1)
      throw new CorruptDataError(`${path} is of an unknown format ${identity.format}`, { file: path });
    return new MessageIdCodec(identity.tag, identity.salt);
  }

  /** Builds the state from the newest readable snapshot and the log after it. */
  private async load(): Promise<void> {
    const io = this.options.io;
    this.live = new Map();
    const freed = (ref: number, len: number) => this.freeBody(ref, len);
    let position: LogPosition = { lsn: 0, segment: 0, offset: 0 };
    this.state = new StoreState(this.ids, freed);
    this.snapshots = [];
    const found = await listSnapshots(io, this.snapshotDir);
    const movedAside = new Set<string>();
    for (const snap of found) {
      try {
        const loaded = await readSnapshot(io, snap.path, this.ids, freed);
        this.state = loaded.state;
        position = loaded.position;
        break;
      } catch (error) {
        if (!(error instanceof CorruptDataError)) throw error;
        this.report({
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
        this.snapshots.push({ ...snap, bytes: (await io.stat(snap.path)).size });
    }
    this.journal = new Journal(this.logDir, io, this.options.segmentSize, position.segment);
    this.tail = new TailIndex(io, this.logDir, this.options.logger);
    this.journal.onDurable = (segment, length, records) => this.tail.recordDurable(segment, length, records);
    if (found.length > 0 && position.lsn === 0 && this.snapshots.length === 0) {
      this.options.logger.error(
        { dir: this.dir },
        'no snapshot could be read: the state is rebuilt from the log alone',
      );
    }
    this.opened = { snapshotLsn: position.lsn, replayedRecords: 0, replayedBytes: 0, messages: 0 };
    await this.replay(position);
    // Watched from here on: what the replay did happened before this process started.
    this.journal.observer = this.options.observer ?? null;
    this.state.observer = this.options.observer ?? null;
    // Count live bytes per segment from the rows themselves: exact whatever the history.
    this.live = new Map();
    // The same pass checks every body lies inside a segment that is there and long enough.
    const lost = new Map<number, Row[]>();
    for (const row of this.state.rows()) {
      const ref = row.queue.cols.bodyRef[row.i] as number;
      const len = row.queue.cols.bodyLen[row.i] as number;
      this.addLive(ref, len);
      this.opened.messages++;
      const segment = this.journal.segments.get(refSegment(ref));
      if (segment && refOffset(ref) + len <= segment.size) continue;
      const no = refSegment(ref);
      const rows = lost.get(no);
      if (rows) rows.push({ queue: row.queue, i: row.i });
      else lost.set(no, [{ queue: row.queue, i: row.i }]);
    }
    if (!this.journal.head) this.journal.rotate();
    if (lost.size > 0) this.setAsideMissing(lost);
    this.reapplyLostDeletes();
    // What was just replayed is log the last snapshot does not cover: it counts toward the next
    // snapshot. Counting from 0 at every open, a store killed before it wrote a segment's worth in
    // one life never snapshotted, and each restart replayed more (the soak saw 30 s restarts).
    this.bytesSinceSnapshot = this.opened.replayedBytes;
    if (this.bytesSinceSnapshot >= this.snapshotEvery) this.snapshotSoon();
  }

  /**
   * Every live body must lie inside a segment that is there and long enough: a segment deleted or
   * cut short is found now, at open, not by the first read. Such messages are set aside and the
   * loss reported with their ids.
   */
  private setAsideMissing(lost: Map<number, Row[]>): void {
    for (const [no, rows] of lost) {
      const present = this.journal.segments.has(no);
      const ids = rows.map((r) => this.ids.format(r.queue.idSeqOf(r.i)));
      const damage: DamageReport = {
        file: join(this.logDir, segmentFileName(no)),
        start: 0,
        end: present ? (this.journal.segments.get(no)?.size ?? 0) : 0,
        lostMessageIds: ids,
        note: present
          ? 'a log segment is shorter than the bodies it holds; those messages are set aside'
          : 'a log segment the store refers to is missing; the messages whose bodies were in it are set aside',
      };
      this.damage.push(damage);
      this.persistDamage(damage);
    }
    // Once, after every report: a delete may compact the columns and move the rows found above.
    this.setAsideRows([...lost.values()].flat(), 'its log segment is missing or shorter than the bodies it holds');
  }

  /** Sets the FLAG_BODY_CRC of the rows a post or relocation (with body CRCs) made or moved. */
  private markBodyCrc(effect: Effect): void {
    if (effect.t === 'post') {
      const q = this.state.find(effect.p, effect.q);
      if (!q) return;
      // applyPost appended the post's rows last, in order.
      const c = q.cols;
      for (let i = Math.max(0, c.length - effect.msgs.length); i < c.length; i++) {
        c.flags[i] = (c.flags[i] as number) | FLAG_BODY_CRC;
      }
    } else if (effect.t === 'relocate') {
      for (const [p, name, order] of effect.entries) {
        const q = this.state.find(p, name);
        const i = q ? q.cols.find(order) : -1;
        if (q && i >= 0) q.cols.flags[i] = (q.cols.flags[i] as number) | FLAG_BODY_CRC;
      }
    }
  }

  /**
   * Takes damaged messages out of their queues (a logged delete, so the next open agrees) and
   * keeps them in the set-aside list: never served as data, never listed or claimed again, and
   * their neighbours unaffected.
   */
  private setAsideRows(rows: Row[], reason: string): void {
    const byQueue = new Map<string, { p: string; q: string; orders: number[] }>();
    for (const row of rows) {
      const q = row.queue;
      const id = this.ids.format(q.idSeqOf(row.i));
      const key = `${q.project}/${q.name}/${id}`;
      if (this.setAsideMessages.has(key)) continue;
      this.setAsideMessages.set(key, { project: q.project, queue: q.name, id, reason });
      const entry = byQueue.get(`${q.project}/${q.name}`) ?? { p: q.project, q: q.name, orders: [] };
      entry.orders.push(q.cols.order[row.i] as number);
      byQueue.set(`${q.project}/${q.name}`, entry);
    }
    for (const { p, q, orders } of byQueue.values()) {
      try {
        this.commit({ t: 'delete', p, q, orders }).catch(() => {});
      } catch (error) {
        // The store cannot write now: the rows stay, and are found damaged (and reported) again.
        this.options.logger.warn({ dir: this.dir, err: (error as Error).message }, 'cannot set damaged messages aside');
      }
    }
  }

  /** Reports bodies found damaged when read, and sets their messages aside. */
  private damagedOnRead(rows: Row[]): void {
    const fresh = rows.filter((r) => !this.setAsideMessages.has(this.keyOf(r)));
    for (const row of fresh) {
      const ref = this.refOf(row);
      const damage: DamageReport = {
        file: join(this.logDir, segmentFileName(refSegment(ref))),
        start: refOffset(ref),
        end: refOffset(ref) + (row.queue.cols.bodyLen[row.i] as number),
        lostMessageIds: [this.ids.format(row.queue.idSeqOf(row.i))],
        note: `the body of a message in queue ${row.queue.name} (project ${row.queue.project || '(none)'}) failed its checksum when read; the message is set aside`,
      };
      this.damage.push(damage);
      this.persistDamage(damage);
    }
    this.setAsideRows(fresh, 'its body failed its checksum when read');
  }

  private keyOf(row: Row): string {
    return `${row.queue.project}/${row.queue.name}/${this.ids.format(row.queue.idSeqOf(row.i))}`;
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
    if (damaged.length > 0) this.damagedOnRead(damaged);
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
      const before = this.setAsideMessages.size;
      const message = await super.firstMessage(project, queue, end);
      if (message || this.setAsideMessages.size === before) return message ?? null;
    }
  }

  private async replay(from: LogPosition): Promise<void> {
    const io = this.options.io;
    const numbers = (await io.readdir(this.logDir))
      .filter((f) => /^\d{10}\.seg$/.test(f))
      .map((f) => Number(f.slice(0, 10)))
      .sort((a, b) => a - b);
    // The last segment holding an intact record: damage that runs to the end of the log after
    // it is a write the crash cut short (never acknowledged: the journal fsyncs a segment before
    // writing the next), damage before it is real.
    let lastIntact = -1;
    for (const no of numbers) {
      if (
        no >= from.segment &&
        (await firstFrameIntact(io, join(this.logDir, segmentFileName(no)), no === from.segment ? from.offset : 0))
      ) {
        lastIntact = no;
      }
    }
    let lsn = from.lsn;
    let expectedSeq = this.state.seq + 1;
    let unattributed: DamageReport | null = null;
    for (const no of numbers) {
      const path = join(this.logDir, segmentFileName(no));
      if (no < from.segment) {
        // Wholly before the snapshot: kept for the bodies in it.
        await this.journal.adopt(no, (await io.stat(path)).size, from.lsn);
        continue;
      }
      const buf = await io.readFile(path);
      let maxLsn = 0;
      let at = no === from.segment ? Math.min(from.offset, buf.length) : 0;
      this.opened.replayedBytes += buf.length - at;
      while (at < buf.length) {
        const end = validFrameAt(buf, at);
        let decoded: ReturnType<typeof decodeRecord> | null = null;
        const seal = end >= 0 ? decodeSeal(buf.subarray(at + HEADER_BYTES, end)) : null;
        if (seal) {
          at = end;
          const sealed = this.journal.segments.get(seal.segment);
          const sealedPath = join(this.logDir, segmentFileName(seal.segment));
          const already = this.damage.some((d) => d.file === sealedPath);
          // A missing sealed segment after the snapshot's own was deleted (compaction only drops
          // segments wholly before the snapshot).
          const gone = !sealed && seal.segment > from.segment;
          if (((sealed && sealed.size < seal.size) || gone) && !already) {
            // Cut below what was durable: the posts it held are named by the gap in ids below.
            unattributed = {
              file: sealedPath,
              start: sealed?.size ?? 0,
              end: seal.size,
              lostMessageIds: [],
              note: 'a log segment is shorter than it was when sealed: acknowledged changes (posts, deletes, claims) were cut off',
            };
            this.damage.push(unattributed);
          }
          continue;
        }
        if (end >= 0) {
          try {
            decoded = decodeRecord(buf.subarray(at + HEADER_BYTES, end), no, at + HEADER_BYTES);
          } catch {
            decoded = null;
          }
        }
        if (!decoded) {
          const next = findNextFrame(buf, at + 1);
          if (next < 0 && no >= lastIntact) {
            // Unless the tail index saw the log durable past here: then it is a cut (checkTail).
            if ((this.tailView.segments.get(no)?.length ?? 0) <= at)
              this.options.logger.warn(
                { file: path, offset: at, bytes: buf.length - at },
                'cut off a torn record at the end of the log (a write the crash interrupted, never acknowledged)',
              );
            await truncateFile(io, path, at);
            break;
          }
          const stop = next < 0 ? buf.length : next;
          unattributed = {
            file: path,
            start: at,
            end: stop,
            lostMessageIds: [],
            note: 'damaged log records were skipped; the changes they held (posts, deletes, claims) are lost',
          };
          this.damage.push(unattributed);
          at = stop;
          continue;
        }
        at = end as number;
        const { lsn: recordLsn, effect } = decoded;
        if (recordLsn <= lsn) continue; // already in the snapshot
        const range = seqRange(effect);
        if (range) {
          if (range[0] > expectedSeq && unattributed) {
            for (let s = expectedSeq; s < range[0]; s++) unattributed.lostMessageIds.push(this.ids.format(s));
          }
          expectedSeq = Math.max(expectedSeq, range[0] + range[1]);
        }
        this.state.apply(effect);
        if (decoded.bodyCrc) this.markBodyCrc(effect);
        this.opened.replayedRecords++;
        lsn = recordLsn;
        maxLsn = recordLsn;
      }
      await this.journal.adopt(no, Math.min(at, buf.length), maxLsn);
    }
    this.checkTail(from);
    for (const damage of this.damage) this.persistDamage(damage);
    await this.damageWritten;
    this.journal.lsn = lsn;
    this.journal.durableLsn = lsn;
  }

  /**
   * A log that ends short of what the tail index saw durable lost acknowledged records: reported
   * with the ids of the posts cut (merged into a seal's report of the same file, when there is
   * one). Each cut is marked in the index so the next open does not report it again, and the
   * store's sequence is moved past every id the index saw, so no id is ever handed out twice.
   */
  private checkTail(from: LogPosition): void {
    const losses = findTailLosses(
      this.tailView,
      from,
      (no) => this.journal.segments.get(no)?.size,
      this.state,
      this.ids,
    );
    if (this.tailView.maxSeq > this.state.seq) this.state.seq = this.tailView.maxSeq;
    for (const loss of losses) {
      const file = join(this.logDir, segmentFileName(loss.segment));
      const sealed = this.damage.find((d) => d.file === file);
      const report: DamageReport = sealed ?? {
        file,
        start: loss.end,
        end: loss.durable,
        lostMessageIds: [],
        note: loss.missing
          ? 'the newest log segment is missing: the acknowledged changes it held were lost'
          : 'the newest log records were cut off below what was durable (not a torn write): acknowledged changes were lost',
      };
      const named = new Set(report.lostMessageIds);
      for (const id of loss.lostMessageIds) if (!named.has(id)) report.lostMessageIds.push(id);
      if (loss.lostDeleteIds.length > 0) {
        report.reappliedDeleteIds = [...(report.reappliedDeleteIds ?? []), ...loss.lostDeleteIds];
        report.note += '; the acknowledged deletes it held are done again';
      }
      if (!sealed) this.damage.push(report);
      this.lostDeletes.push(...loss.deletes);
      this.tail.markCut(loss.segment, loss.end);
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

  private report(damage: DamageReport): void {
    this.damage.push(damage);
  }

  private persistDamage(damage: DamageReport): void {
    this.options.logger.error(
      { file: damage.file, start: damage.start, end: damage.end, lostMessageIds: damage.lostMessageIds },
      `damaged data in the disk store: ${damage.note}`,
    );
    const line = Buffer.from(`${JSON.stringify({ at: new Date().toISOString(), ...damage })}\n`);
    const io = this.options.io;
    // One append after the other, off the read that found the damage (reads are synchronous).
    this.damageWritten = this.damageWritten.then(async () => {
      try {
        const fd = await io.open(join(this.dir, 'damage.log'), 'a', 0o644);
        try {
          for (let at = 0; at < line.length; ) at += Math.max(1, await io.write(fd, line, at, line.length - at));
        } finally {
          await io.close(fd);
        }
      } catch {
        // The report is in memory and in the log line; a full disk must not stop the open.
      }
    });
  }

  // --- commit -------------------------------------------------------------------------------

  protected commit(effect: Effect, bodies?: Buffer[]): Promise<void> {
    const journal = this.journal;
    if (this.reloadNeeded) throw this.reloadNeeded;
    if (journal.failed) throw journal.failed;
    const lsn = journal.lsn + 1;
    let buf = this.encode(effect, lsn, bodies, journal.head.no, journal.head.size);
    if (this.options.maxBytes !== Number.POSITIVE_INFINITY) this.checkRoom(effect, buf.length);
    if (effect.t === 'post' || effect.t === 'relocate') this.checkDiskRoom(buf.length);
    const before = journal.head.no;
    const position = journal.position(buf.length);
    if (position.segment !== before) buf = this.encode(effect, lsn, bodies, position.segment, position.offset);
    const oldRefs = effect.t === 'relocate' ? this.currentRefs(effect) : null;
    this.state.apply(effect);
    this.markBodyCrc(effect); // every post and relocation written now has a CRC before each body
    if (effect.t === 'post') {
      // One segment holds the whole record: count its bodies once.
      let bytes = 0;
      for (const m of effect.msgs) bytes += m.len;
      if (effect.msgs.length > 0) this.addLive((effect.msgs[0] as { ref: number }).ref, bytes);
    } else if (oldRefs) {
      (effect as Relocate).entries.forEach(([, , , ref], k) => {
        const old = oldRefs[k];
        if (old) {
          this.freeBody(old[0], old[1]);
          this.addLive(ref, old[1]);
        }
      });
    }
    this.bytesSinceSnapshot += buf.length;
    this.diskFree.writtenSince += buf.length;
    const durable = journal.append(buf, lsn, tailNoteOf(effect));
    if (this.bytesSinceSnapshot >= this.snapshotEvery && !this.snapshotting && !this.snapshotDue) this.snapshotSoon();
    return durable;
  }

  private encode(effect: Effect, lsn: number, bodies: Buffer[] | undefined, segment: number, offset: number): Buffer {
    if (effect.t === 'post') return encodePost(effect, lsn, bodies as Buffer[], segment, offset);
    if (effect.t === 'relocate') return encodeRelocate(effect, lsn, bodies as Buffer[], segment, offset);
    return encodeEffect(effect, lsn);
  }

  /**
   * Refuses a write that needs room for data when the disk has less than DISK_RESERVE left after
   * it. Free space is looked up (statfs) at most every STATFS_EVERY_MS while it is plentiful —
   * what the store itself writes meanwhile is counted against it — and at every such write once
   * it is near the reserve; real time, not the store's clock, since this only paces a syscall.
   */
  private checkDiskRoom(bytes: number): void {
    const now = performance.now();
    const f = this.diskFree;
    if (now - f.at >= STATFS_EVERY_MS || f.bytes - f.writtenSince - bytes < 4 * DISK_RESERVE) {
      try {
        const fs = this.options.io.statfsSync(this.logDir);
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

  private checkRoom(effect: Effect, bytes: number): void {
    const room =
      effect.t === 'post' || effect.t === 'relocate' ? this.options.maxBytes - WRITE_RESERVE : this.options.maxBytes;
    if (this.usage().bytes + bytes > room) {
      throw new StorageFullError(
        `the disk store in ${this.dir} is full: ${this.options.maxBytes} bytes allowed (this write needs ${bytes})`,
      );
    }
  }

  /** Not at once: the caller may still be reading rows of the operation being committed. */
  private snapshotSoon(): void {
    this.snapshotDue = true;
    setImmediate(() => {
      this.snapshotDue = false;
      if (!this.snapshotting && !this.closed && !this.journal.failed) void this.snapshot().catch(() => {});
    });
  }

  private currentRefs(effect: Relocate): ([number, number] | null)[] {
    return effect.entries.map(([p, q, order]) => {
      const queue = this.state.find(p, q);
      const i = queue ? queue.cols.find(order) : -1;
      return queue && i >= 0 ? [queue.cols.bodyRef[i] as number, queue.cols.bodyLen[i] as number] : null;
    });
  }

  private addLive(ref: number, len: number): void {
    const segment = refSegment(ref);
    this.live.set(segment, (this.live.get(segment) ?? 0) + len);
  }

  private freeBody(ref: number, len: number): void {
    const segment = refSegment(ref);
    const left = (this.live.get(segment) ?? 0) - len;
    if (left > 0) this.live.set(segment, left);
    else this.live.delete(segment);
  }

  protected loadBodies(rows: Row[]): unknown[] {
    // Read neighbouring bodies with one call: a claim's messages usually lie side by side.
    const order = rows.map((_, k) => k).sort((a, b) => this.refOf(rows[a] as Row) - this.refOf(rows[b] as Row));
    const out: unknown[] = new Array(rows.length);
    for (let k = 0; k < order.length; ) {
      const first = rows[order[k] as number] as Row;
      const segment = refSegment(this.refOf(first));
      const start = this.startOf(first);
      let end = refOffset(this.refOf(first)) + (first.queue.cols.bodyLen[first.i] as number);
      let j = k + 1;
      while (j < order.length) {
        const row = rows[order[j] as number] as Row;
        const ref = this.refOf(row);
        if (refSegment(ref) !== segment || this.startOf(row) - end > 16_384) break;
        end = Math.max(end, refOffset(ref) + (row.queue.cols.bodyLen[row.i] as number));
        j++;
      }
      let span: Buffer | null = null;
      try {
        span = this.journal.read(segment, start, end - start);
      } catch (error) {
        if (!(error instanceof CorruptDataError)) throw error; // the disk failed: not damage
        span = null; // read each body alone below, so one bad body does not take its neighbours
      }
      for (; k < j; k++) {
        const at = order[k] as number;
        const row = rows[at] as Row;
        out[at] = span ? this.bodyIn(row, span, start) : this.bodyAlone(row);
      }
    }
    return out;
  }

  /** Where a row's bytes start on disk: at its body's CRC when it has one. */
  private startOf(row: Row): number {
    const gap = ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC) !== 0 ? BODY_CRC_BYTES : 0;
    return refOffset(this.refOf(row)) - gap;
  }

  /** The decoded body of a row from a span read at `spanStart`, or DAMAGED. */
  private bodyIn(row: Row, span: Buffer, spanStart: number): unknown {
    const from = refOffset(this.refOf(row)) - spanStart;
    const body = span.subarray(from, from + (row.queue.cols.bodyLen[row.i] as number));
    if ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC) {
      if (crc32(body) !== span.readUInt32BE(from - BODY_CRC_BYTES)) return DAMAGED;
    }
    try {
      return decodeValue(body);
    } catch {
      return DAMAGED;
    }
  }

  private bodyAlone(row: Row): unknown {
    const start = this.startOf(row);
    const end = refOffset(this.refOf(row)) + (row.queue.cols.bodyLen[row.i] as number);
    try {
      return this.bodyIn(row, this.journal.read(refSegment(this.refOf(row)), start, end - start), start);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      return DAMAGED;
    }
  }

  /** A row's encoded body, checked against its CRC; null when damaged or unreadable. */
  private rawBody(row: Row): Buffer | null {
    const start = this.startOf(row);
    const ref = this.refOf(row);
    const len = row.queue.cols.bodyLen[row.i] as number;
    try {
      const span = this.journal.read(refSegment(ref), start, refOffset(ref) + len - start);
      const body = span.subarray(span.length - len);
      if ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC && crc32(body) !== span.readUInt32BE(0)) return null;
      return Buffer.from(body);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      return null;
    }
  }

  private refOf(row: Row): number {
    return row.queue.cols.bodyRef[row.i] as number;
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
      await this.snapshotting?.catch(() => {});
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
    await this.compact();
    // A snapshot already being written is waited for: the segments it frees are dropped below.
    if (this.snapshotting) await this.snapshotting.catch(() => {});
    else if (this.bytesSinceSnapshot >= this.snapshotEvery) await this.snapshot();
    await this.dropDeadSegments();
    return report;
  }

  /** Copies the live bodies of sparse sealed segments forward, so the segments can go. */
  private async compact(): Promise<void> {
    if (this.compacting) return;
    this.compacting = true;
    try {
      const sparse = new Set<number>();
      for (const segment of this.journal.segments.values()) {
        if (segment === this.journal.head || segment.size === 0) continue;
        const live = this.live.get(segment.no) ?? 0;
        if (live > 0 && live < segment.size * COMPACT_BELOW) sparse.add(segment.no);
      }
      if (sparse.size === 0) return;
      // Remember messages by order key only: row indexes change while relocations await.
      const chunks: [string, string, number][][] = [[]];
      let bytes = 0;
      for (const { queue, i } of this.state.rows()) {
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
        if (this.closed || this.journal.failed) return;
        const entries: [string, string, number, number][] = [];
        const bodies: Buffer[] = [];
        for (const [p, q, order] of chunk) {
          const queue = this.state.find(p, q);
          const i = queue ? queue.cols.find(order) : -1;
          if (!queue || i < 0) continue; // deleted meanwhile
          const ref = queue.cols.bodyRef[i] as number;
          if (!sparse.has(refSegment(ref))) continue;
          const row: Row = { queue, i };
          const body = this.rawBody(row);
          if (!body) {
            this.damagedOnRead([row]); // never copy damage forward as if it were intact
            continue;
          }
          bodies.push(body);
          entries.push([p, q, order, 0]);
        }
        if (entries.length === 0) continue;
        try {
          await this.commit({ t: 'relocate', entries }, bodies);
        } catch (error) {
          // No room to copy bodies forward (a full disk): gc goes on with what frees space
          // without copying — snapshots, and dropping segments whose bodies are all dead.
          if (error instanceof StorageFullError && !this.journal.failed) return;
          throw error;
        }
      }
    } finally {
      this.compacting = false;
    }
  }

  /**
   * Takes a snapshot of the state as it is now, writes it once the log under it is durable,
   * keeps the two newest, and drops log segments no longer needed.
   */
  private snapshot(): Promise<void> {
    const journal = this.journal;
    const position: LogPosition = { lsn: journal.lsn, segment: journal.head.no, offset: journal.head.size };
    const parts = captureSnapshot(this.state, position);
    const tail = this.tail;
    tail.rotate(); // what the index holds now lies under this snapshot
    this.bytesSinceSnapshot = 0;
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    const run = (async () => {
      await journal.settled();
      const io = this.options.io;
      const path = await writeSnapshot(io, this.snapshotDir, this.scratchDir, position.lsn, parts);
      tail.dropPrevious();
      if (this.snapshots[0]?.path !== path) this.snapshots.unshift({ lsn: position.lsn, path, bytes });
      for (const old of this.snapshots.splice(2)) {
        // Not unlinked: still there at the next open, which then simply has one more to choose from.
        await io.unlink(old.path).catch(() => {});
      }
      // Snapshot again after the log has grown by a segment or twice the snapshot's size,
      // whichever is more, so snapshots never cost more than a third of the writing.
      this.snapshotEvery = Math.max(this.options.segmentSize, 2 * bytes);
      await this.dropDeadSegments();
    })();
    this.snapshotting = run
      .catch((error) => {
        this.options.logger.warn({ dir: this.dir, err: (error as Error).message }, 'a snapshot could not be written');
      })
      .finally(() => {
        this.snapshotting = null;
      });
    return run;
  }

  /**
   * A segment may go when no live body is in it and both kept snapshots begin after it, so the
   * state can be rebuilt from either snapshot alone.
   */
  private async dropDeadSegments(): Promise<void> {
    const older = this.snapshots[this.snapshots.length - 1];
    if (this.snapshots.length < 2 || !older || this.journal.failed || this.reloadNeeded) return;
    const io = this.options.io;
    const journal = this.journal;
    let dropped = false;
    for (const segment of [...journal.segments.values()]) {
      if (segment === journal.head || (this.live.get(segment.no) ?? 0) > 0) continue;
      if (segment.maxLsn > older.lsn || segment.no >= journal.head.no) continue;
      // A segment whose unlink fails stays on disk, unused; the next open adopts it again.
      if (await journal.drop(segment.no).catch(() => undefined)) {
        await io.unlink(segment.path);
        dropped = true;
      }
    }
    if (dropped) await syncDirWith(io, this.logDir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gcTimer?.cancel();
    try {
      await this.recovering?.catch(() => {});
      await this.snapshotting;
      if (!this.journal.failed && !this.reloadNeeded) {
        await this.journal.settled().catch(() => {});
        // A snapshot at close makes the next open replay nothing.
        if (this.journal.lsn > (this.snapshots[0]?.lsn ?? 0)) await this.snapshot().catch(() => {});
      }
      await this.journal.close();
      this.tail.close();
      await this.damageWritten;
    } finally {
      this.lock?.release();
    }
  }

  /** Ids and usage for tests and tools. */
  get lastSequence(): number {
    return this.state.seq;
  }

  static readonly RECORD_MAGIC = RECORD_MAGIC;
}

/** Whether the record at `offset` of a segment file is whole (reads that record only). */
async function firstFrameIntact(io: FileIo, path: string, offset: number): Promise<boolean> {
  const fd = await io.open(path, constants.O_RDONLY);
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    if ((await readFully(io, fd, header, offset)) < HEADER_BYTES) return false;
    if (header.readUInt32BE(0) !== RECORD_MAGIC) return false;
    const length = header.readUInt32BE(4);
    if (length > 1 << 30) return false;
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

/** Cuts a file to `size` bytes; with `durable`, fsynced so that the cut holds after a crash. */
async function truncateFile(io: FileIo, path: string, size: number, durable = false): Promise<void> {
  const fd = await io.open(path, constants.O_RDWR);
  try {
    await io.ftruncate(fd, size);
    if (durable) await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
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
