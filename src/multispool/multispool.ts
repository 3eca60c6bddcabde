import { resolve } from 'node:path';
import {
  CorruptDataError,
  InvalidArgumentError,
  NotASpoolError,
  ResourceConflictError,
  ResourceNotFoundError,
} from '../core/index.js';
import { errnoOf, listNames, mkdirAsync, readdirAsync, statAsync, storageError } from './disk.js';
import { CheckedOutEntry, Entry } from './entry.js';
import type { EntryAction, EntryDecision } from './entry-action.js';
import { type SpoolLog, stderrLog } from './log.js';
import { QueueReader, type QueueReaderOptions, type ReadableSpool } from './queue-reader.js';
import { type RecoveryReport, recoverSpool } from './recovery.js';
import { NewerMetadataError, SpoolFiles } from './spool-files.js';
import { type NameGenerator, QUEUE_NAME_PATTERN, type Spoolable, timeOrderedNames } from './spoolable.js';

export interface MultispoolOptions {
  /** Make the folder, the spool structure and missing queue folders (never in a non-empty non-spool folder). */
  createIfMissing?: boolean;
  /** Where repairs (recovered entries, corrupt files) are reported; default: JSON lines on stderr. */
  log?: SpoolLog;
  /** Most files this Multispool keeps open at once; default 256. */
  maxOpenFiles?: number;
}

/** How enqueue names an entry: reserve a fresh name from a generator, or use one reserved already (or exactly this one). */
export type EnqueueName = { reserve: NameGenerator } | { use: UniqueName | string };

/** A name reserved in a spool (async_smtp's `Unique_name`), to enqueue under later with `{ use }`. */
export class UniqueName {
  private used = false;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly onRelease: () => Promise<void>,
  ) {}

  /** @internal Marks the name as used by an enqueue; false if it was used already. */
  take(): boolean {
    if (this.used) return false;
    this.used = true;
    return true;
  }

  /** Gives the name back without using it. */
  async release(): Promise<void> {
    if (!this.take()) return;
    await this.onRelease();
  }
}

const RESERVE_ATTEMPTS = 100;
const LOCK_FILE = '.lock';

/**
 * async_smtp's Multispool: a folder of named queues that several processes share safely. Each
 * entry is a metadata file in its queue's folder plus a data file; moving an entry between
 * queues is a rename, and so is checking it out, so exactly one process wins any race for an
 * entry without locks or a server. See layout.ts for the files and recovery.ts for what is
 * repaired when a process dies.
 */
export class Multispool<M, D, Q extends string = string> implements ReadableSpool<M, D, Q> {
  /** @internal */
  readonly files: SpoolFiles<M, D, Q>;
  private readonly defaultNames: NameGenerator = timeOrderedNames();

  private constructor(dir: string, spoolable: Spoolable<M, D, Q>, options: MultispoolOptions) {
    this.files = new SpoolFiles(dir, spoolable, options.log ?? stderrLog, options.maxOpenFiles ?? 256);
  }

  /**
   * Opens a spool. Fails with NotASpoolError unless `dir` is a spool holding exactly the queues
   * the spoolable declares; with `createIfMissing`, makes the folder, the structure and missing
   * queues, but still refuses a non-empty folder that is not a spool. Then returns to their
   * queues the entries that dead processes held checked out, and cleans their scratch files.
   */
  static async load<M, D, Q extends string>(
    dir: string,
    spoolable: Spoolable<M, D, Q>,
    options: MultispoolOptions = {},
  ): Promise<Multispool<M, D, Q>> {
    checkSpoolable(spoolable);
    const root = resolve(checkDir(dir));
    const spool = new Multispool(root, spoolable, options);
    const { layout } = spool.files;
    const plan = await planLoad(root, spoolable.queues, options.createIfMissing === true);
    // Every check passed: only now is anything created.
    for (const path of plan.create) await mkdirAsync(path, { recursive: true });
    for (const path of [layout.data, ...spoolable.queues.map((q) => layout.checkoutDir(q))]) {
      await mkdirAsync(path, { recursive: true });
    }
    try {
      await spool.files.syncer.sync(root);
    } catch (error) {
      throw storageError(`cannot sync ${root}`, error);
    }
    await spool.recover();
    return spool;
  }

  /** Same as `load(dir, spoolable, { createIfMissing: true })`. */
  static create<M, D, Q extends string>(
    dir: string,
    spoolable: Spoolable<M, D, Q>,
    options: Omit<MultispoolOptions, 'createIfMissing'> = {},
  ): Promise<Multispool<M, D, Q>> {
    return Multispool.load(dir, spoolable, { ...options, createIfMissing: true });
  }

  /** Opens a spool with no checks and no recovery. */
  static loadUnsafe<M, D, Q extends string>(
    dir: string,
    spoolable: Spoolable<M, D, Q>,
    options: Omit<MultispoolOptions, 'createIfMissing'> = {},
  ): Multispool<M, D, Q> {
    checkSpoolable(spoolable);
    return new Multispool(resolve(checkDir(dir)), spoolable, options);
  }

  get dir(): string {
    return this.files.dir;
  }

  get queues(): readonly Q[] {
    return this.files.spoolable.queues;
  }

  /** A handle on `queue/name` (async_smtp's `Entry.create`); the entry may or may not exist. */
  entry(queue: Q, name: string): Entry<M, D, Q> {
    return new Entry(this.files, this.files.checkQueue(queue), this.files.checkName(name));
  }

  /** The entries in a queue now, in name order. Checked-out entries are not listed. */
  async list(queue: Q): Promise<Entry<M, D, Q>[]> {
    const q = this.files.checkQueue(queue);
    let names: string[];
    try {
      names = await readdirAsync(this.files.layout.queueDir(q));
    } catch (error) {
      throw storageError(`cannot list ${q} in ${this.dir}`, error);
    }
    return names
      .filter((n) => !n.startsWith('.'))
      .sort()
      .map((n) => new Entry(this.files, q, n));
  }

  /** Entries currently checked out of a queue by any process, with the holder's token. */
  async listCheckouts(queue: Q): Promise<{ name: string; owner: string }[]> {
    const q = this.files.checkQueue(queue);
    const out: { name: string; owner: string }[] = [];
    let names: string[];
    try {
      names = await listNames(this.files.layout.checkoutDir(q));
    } catch (error) {
      throw storageError(`cannot list ${q}/.checkout in ${this.dir}`, error);
    }
    for (const file of names) {
      const at = file.lastIndexOf('@');
      if (at > 0) out.push({ name: file.slice(0, at), owner: file.slice(at + 1) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Reserves a fresh name, asking the generator again (up to 100 times) while names are taken. */
  async reserveName(generator: NameGenerator = this.defaultNames): Promise<UniqueName> {
    let last = '';
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      last = this.files.checkName(generator.next(attempt), 'generated name');
      if (await this.files.reserveExact(last)) return this.uniqueName(last);
    }
    throw new ResourceConflictError(
      'spool entry name',
      last,
      `taken, and so were the ${RESERVE_ATTEMPTS - 1} names proposed before it`,
    );
  }

  /**
   * Adds an entry to a queue and resolves once it is durable: data and metadata written to disk
   * and fsynced, the metadata renamed into the queue, the folders fsynced. On failure nothing of
   * it is left. A name given with `{ use: 'name' }` that is taken is a ResourceConflictError.
   */
  async enqueue(
    queue: Q,
    metadata: M,
    data: D,
    name: EnqueueName = { reserve: this.defaultNames },
  ): Promise<Entry<M, D, Q>> {
    const q = this.files.checkQueue(queue);
    const metadataBytes = this.files.encodeMetadata(metadata);
    const dataBytes = this.files.encodeData(data);
    const chosen = await this.takeName(name);
    await this.files.writeEntry(q, chosen, metadataBytes, dataBytes);
    return new Entry(this.files, q, chosen);
  }

  /**
   * Checks the entry out, runs `f` on its metadata and data, then saves or removes it as `f`
   * says and resolves with `f`'s result. If `f` throws, the entry goes back unchanged. An entry
   * that another process took (or that is gone) is a ResourceNotFoundError: use this when you
   * expect to be the entry's only user.
   */
  async withEntry<R>(entry: Entry<M, D, Q>, f: EntryAction<M, D, Q, R>): Promise<R> {
    return this.runCheckedOut(await this.checkout(entry), f);
  }

  /** Like withEntry, but an entry taken by another process first is `'not-found'` (async_smtp's `with_entry'`). */
  async withEntryOrNotFound<R>(entry: Entry<M, D, Q>, f: EntryAction<M, D, Q, R>): Promise<{ ok: R } | 'not-found'> {
    const taken = await this.checkoutOrNotFound(entry);
    if (taken === 'not-found') return 'not-found';
    return { ok: await this.runCheckedOut(taken, f) };
  }

  /**
   * Expert: checks an entry out for as long as the caller likes; it must be saved, removed or
   * released. Metadata that cannot be read is moved to `.corrupt/` (logged) and reported as
   * CorruptDataError; metadata written by a newer release is left in place, also as CorruptDataError.
   */
  async checkoutOrNotFound(entry: Entry<M, D, Q>): Promise<CheckedOutEntry<M, D, Q> | 'not-found'> {
    const { files } = this;
    const held = await files.checkout(entry.queue, entry.name);
    if (held === 'not-found') return 'not-found';
    let metadata: M;
    try {
      metadata = await files.readMetadataAt(held);
    } catch (error) {
      if (error instanceof NewerMetadataError || !(error instanceof CorruptDataError)) {
        await files.releaseCheckedOut(entry.queue, entry.name);
        if (error instanceof CorruptDataError) throw error;
        throw storageError(`cannot read ${held}`, error);
      }
      await files.moveToCorrupt(entry.queue, entry.name, held, error);
      throw error;
    }
    return new CheckedOutEntry(files, entry.queue, entry.name, metadata);
  }

  /** Expert: like checkoutOrNotFound, but an entry that is not there is a ResourceNotFoundError. */
  async checkout(entry: Entry<M, D, Q>): Promise<CheckedOutEntry<M, D, Q>> {
    const taken = await this.checkoutOrNotFound(entry);
    if (taken === 'not-found') throw new ResourceNotFoundError('spool entry', `${entry.queue}/${entry.name}`);
    return taken;
  }

  /**
   * Expert: gives an entry whose metadata was moved to `.corrupt/` new metadata in `queue`, for
   * callers that can rebuild it (from the data, say). The name and data must still be there and
   * the name in no queue, else ResourceNotFoundError or ResourceConflictError.
   */
  async reinstate(queue: Q, name: string, metadata: M): Promise<Entry<M, D, Q>> {
    const q = this.files.checkQueue(queue);
    const n = this.files.checkName(name);
    await this.files.reinstate(q, n, this.files.encodeMetadata(metadata));
    return new Entry(this.files, q, n);
  }

  /** Metadata files moved aside as unreadable, per queue (newest names last). */
  async listCorrupt(): Promise<{ queue: string; file: string; path: string }[]> {
    const out: { queue: string; file: string; path: string }[] = [];
    for (const queue of await listNames(this.files.layout.corrupt)) {
      const dir = `${this.files.layout.corrupt}/${queue}`;
      for (const file of (await listNames(dir)).sort()) out.push({ queue, file, path: `${dir}/${file}` });
    }
    return out;
  }

  /** A reader that takes entries from `queue` in name order and waits for new ones. */
  reader(queue: Q, options: QueueReaderOptions = {}): QueueReader<M, D, Q> {
    return new QueueReader(this, this.files.checkQueue(queue), options);
  }

  /**
   * Repairs what dead processes left: their checkouts return to their queues, their scratch
   * files and never-used names go. `load` does this; long-running processes may call it again.
   */
  recover(): Promise<RecoveryReport> {
    return recoverSpool(this.files as SpoolFiles<unknown, unknown, string>).catch((error) => {
      throw errnoOf(error) ? storageError(`cannot recover ${this.dir}`, error) : error;
    });
  }

  /** @internal The folder of a queue, for readers and watchers. */
  layoutQueueDir(queue: Q): string {
    return this.files.layout.queueDir(queue);
  }

  /** @internal Runs `f` on a checked-out entry and applies its decision. */
  async runCheckedOut<R>(taken: CheckedOutEntry<M, D, Q>, f: EntryAction<M, D, Q, R>): Promise<R> {
    let decision: EntryDecision<M, Q>;
    let result: R;
    try {
      const outcome = await f(taken.metadata, taken.dataFile);
      if (!Array.isArray(outcome) || outcome.length !== 2) {
        throw new InvalidArgumentError('f', 'must return [{ save: [metadata, queue] } | "remove", result]');
      }
      [decision, result] = outcome as [EntryDecision<M, Q>, R];
      if (decision === 'remove') {
        await taken.remove();
      } else if (decision && typeof decision === 'object' && Array.isArray(decision.save)) {
        await taken.save(decision.save[0], decision.save[1]);
      } else {
        throw new InvalidArgumentError('f', 'must decide { save: [metadata, queue] } or "remove"');
      }
    } catch (error) {
      if (!taken.isSettled) {
        await taken.release().catch((undo) =>
          this.files.log('error', 'a checked-out entry could not be given back; recovery will return it', {
            spool: this.dir,
            queue: taken.queue,
            name: taken.name,
            error: (undo as Error).message,
          }),
        );
      }
      throw error;
    }
    return result;
  }

  private uniqueName(name: string): UniqueName {
    return new UniqueName(this.dir, name, () => this.files.releaseReservation(name));
  }

  private async takeName(how: EnqueueName): Promise<string> {
    if (how && typeof how === 'object' && 'reserve' in how) {
      if (!how.reserve || typeof how.reserve.next !== 'function') {
        throw new InvalidArgumentError('name.reserve', 'must be a name generator ({ next(attempt) })');
      }
      const reserved = await this.reserveName(how.reserve);
      reserved.take();
      return reserved.name;
    }
    if (how && typeof how === 'object' && 'use' in how) {
      const use = how.use;
      if (typeof use === 'string') {
        const name = this.files.checkName(use, 'name.use');
        if (!(await this.files.reserveExact(name))) {
          throw new ResourceConflictError('spool entry name', name, 'is taken');
        }
        return name;
      }
      if (use instanceof UniqueName) {
        if (use.dir !== this.dir)
          throw new InvalidArgumentError('name.use', `was reserved in ${use.dir}, not ${this.dir}`);
        if (!use.take()) throw new ResourceConflictError('spool entry name', use.name, 'was used or released already');
        return use.name;
      }
    }
    throw new InvalidArgumentError('name', 'must be { reserve: generator } or { use: name }');
  }
}

function checkDir(dir: unknown): string {
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dir', 'must be a non-empty path');
  return dir;
}

function checkSpoolable(spoolable: Spoolable<unknown, unknown, string>): void {
  if (!spoolable || typeof spoolable !== 'object') throw new InvalidArgumentError('spoolable', 'must be an object');
  const { queues, metadata, data } = spoolable;
  if (!Array.isArray(queues) || queues.length === 0) {
    throw new InvalidArgumentError('spoolable.queues', 'must list at least one queue');
  }
  const seen = new Set<string>();
  for (const q of queues) {
    if (typeof q !== 'string' || !QUEUE_NAME_PATTERN.test(q)) {
      throw new InvalidArgumentError('spoolable.queues', `${JSON.stringify(q)} is not a queue name`);
    }
    if (seen.has(q)) throw new InvalidArgumentError('spoolable.queues', `${q} is listed twice`);
    seen.add(q);
  }
  if (!metadata || typeof metadata.encode !== 'function' || typeof metadata.decode !== 'function') {
    throw new InvalidArgumentError('spoolable.metadata', 'must be a metadata codec');
  }
  if (!Number.isInteger(metadata.version) || metadata.version < 1) {
    throw new InvalidArgumentError('spoolable.metadata.version', 'must be a positive integer');
  }
  if (!data || typeof data.encode !== 'function' || typeof data.decode !== 'function') {
    throw new InvalidArgumentError('spoolable.data', 'must be a data codec');
  }
}

/** Checks the folder against the declared queues and lists what would be created; changes nothing. */
const SKELETON = new Set(['.registry', '.tmp']);

async function isEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdirAsync(path)).length === 0;
  } catch {
    return false;
  }
}

async function planLoad(
  root: string,
  queues: readonly string[],
  createIfMissing: boolean,
): Promise<{ create: string[] }> {
  let names: string[];
  try {
    names = await readdirAsync(root);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOTDIR') throw new NotASpoolError(root, 'it is not a folder');
    if (code !== 'ENOENT') throw storageError(`cannot read ${root}`, error);
    if (!createIfMissing)
      throw new NotASpoolError(root, 'the folder does not exist', { hint: 'pass createIfMissing to make it' });
    return { create: [root, `${root}/.registry`, `${root}/.tmp`, ...queues.map((q) => `${root}/${q}`)] };
  }
  const create: string[] = [];
  const isSpool = names.includes('.registry') && names.includes('.tmp');
  if (!isSpool) {
    // The lock file of a Spool that opens this folder may already be there, and so may the
    // first of .registry and .tmp (made in that order, queues after) when a failure — a full
    // disk — stopped the folder's making halfway: empty, they hold nothing, so making goes on.
    const others: string[] = [];
    for (const n of names) {
      if (n !== LOCK_FILE && !(SKELETON.has(n) && (await isEmptyDir(`${root}/${n}`)))) others.push(n);
    }
    if (others.length > 0) {
      throw new NotASpoolError(
        root,
        `the folder is not empty and is not a spool (no .registry and .tmp; it holds ${others.slice(0, 3).join(', ')})`,
      );
    }
    if (!createIfMissing)
      throw new NotASpoolError(root, 'the folder is empty', { hint: 'pass createIfMissing to make a spool' });
    create.push(`${root}/.registry`, `${root}/.tmp`);
  }
  const declared = new Set(queues);
  for (const name of names) {
    if (name.startsWith('.')) continue;
    if (!declared.has(name)) {
      throw new NotASpoolError(
        root,
        `it holds ${JSON.stringify(name)}, which is not a declared queue (${queues.join(', ')})`,
      );
    }
    if (!(await statAsync(`${root}/${name}`)).isDirectory()) {
      throw new NotASpoolError(root, `the queue ${JSON.stringify(name)} is a file, not a folder`);
    }
  }
  for (const queue of queues) {
    if (names.includes(queue)) continue;
    if (!createIfMissing) throw new NotASpoolError(root, `the queue folder ${JSON.stringify(queue)} is missing`);
    create.push(`${root}/${queue}`);
  }
  return { create };
}
