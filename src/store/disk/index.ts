import {
  type Clock,
  type FileIo,
  type Limits,
  type Logger,
  makeLimits,
  nodeFileIo,
  stderrLogger,
  systemClock,
} from '../../core/index.js';
import { createDataDriver, type DataDriver, type StoreObserver } from '../contract/index.js';
import type { DamageReport, SetAsideMessage } from './damage-ledger.js';
import { DiskEngine, type DiskUsage, type OpenStats } from './disk-engine.js';

export interface DiskDriverOptions {
  /** The store's folder; made when missing. One process owns it at a time. */
  dir: string;
  clock?: Clock;
  limits?: Partial<Limits>;
  logger?: Logger;
  /** Largest log segment file in bytes (default 64 MiB). */
  segmentSize?: number;
  /** Most bytes the store may take on disk; writes beyond fail with StorageFullError (default: no limit). */
  maxBytes?: number;
  /** How often expired data is collected and space reclaimed, in ms (default 10 s; 0: only when gc() is called). */
  gcIntervalMs?: number;
  /** Every file operation of the store (default: Node's; tests put a FaultyFileIo in its place). */
  io?: FileIo;
  /** Told of group commits, dead-letter moves and expired messages (the server wires its metrics here). */
  observer?: StoreObserver;
}

/** A DataDriver over a folder, with what only a disk store can tell. */
export interface DiskDriver extends DataDriver {
  readonly dir: string;
  /** Damaged stretches of files found when the store was opened. */
  damageReports(): DamageReport[];
  /** Messages set aside because their stored bodies are damaged or missing (never served as data). */
  setAside(): SetAsideMessage[];
  /** What the store's files take on disk. */
  diskUsage(): DiskUsage;
  /** What opening the store had to do (snapshot used, log replayed). */
  openStats(): OpenStats;
}

/**
 * Opens (or makes) the embedded disk store in `dir`: durable (a write is acknowledged after its
 * fsync), crash-safe (a torn record is cut off, a damaged one reported and skipped), and fast
 * (group commit; bodies stay on disk). A second open of the same folder, here or in another
 * process, fails with LockedError naming the owner's pid.
 */
export async function createDiskDriver(options: DiskDriverOptions): Promise<DiskDriver> {
  const engine = await DiskEngine.open({
    dir: options.dir,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? stderrLogger,
    io: options.io ?? nodeFileIo,
    segmentSize: options.segmentSize ?? 64 * 1024 * 1024,
    maxBytes: options.maxBytes ?? Number.POSITIVE_INFINITY,
    gcIntervalMs: options.gcIntervalMs ?? 10_000,
    observer: options.observer ?? null,
  });
  const driver = createDataDriver(engine, makeLimits(options.limits));
  return Object.assign(driver, {
    dir: engine.dir,
    damageReports: () => engine.damageReports(),
    setAside: () => engine.setAside(),
    diskUsage: () => engine.usage(),
    openStats: () => engine.openStats(),
  });
}

export type { DamageReport, SetAsideMessage } from './damage-ledger.js';
export type { DiskUsage, OpenStats } from './disk-engine.js';
