import { join } from 'node:path';
import { CorruptDataError, InvalidArgumentError, ResourceConflictError, ResourceNotFoundError } from '../core/index.js';
import {
  closeAsync,
  DirSyncer,
  errnoOf,
  exists,
  FILE_MODE,
  fdatasyncAsync,
  linkAsync,
  listNames,
  mkdirAsync,
  openAsync,
  readFileAsync,
  renameAsync,
  storageError,
  Throttle,
  unlinkIfPresent,
  writeAll,
  writeDurable,
} from './disk.js';
import { Layout } from './layout.js';
import type { SpoolLog } from './log.js';
import { decodeMetadataFile, encodeMetadataFile } from './metadata-file.js';
import { ownerToken } from './process-owner.js';
import { ENTRY_NAME_PATTERN, type Spoolable } from './spoolable.js';

/** Metadata written by a newer release than this one: left in place, never moved aside as corrupt. */
export class NewerMetadataError extends CorruptDataError {}

/**
 * The file operations of one spool folder, below the public Multispool API: every write path
 * (enqueue, save, remove) and the order of its renames and fsyncs lives here, next to the
 * recovery rules in recovery.ts that depend on that order.
 */
export class SpoolFiles<M, D, Q extends string> {
  readonly layout: Layout;
  readonly syncer = new DirSyncer();
  readonly throttle: Throttle;
  readonly owner = ownerToken();
  private readonly queueSet: ReadonlySet<string>;

  constructor(
    readonly dir: string,
    readonly spoolable: Spoolable<M, D, Q>,
    readonly log: SpoolLog,
    maxOpenFiles: number,
  ) {
    this.layout = new Layout(dir);
    this.throttle = new Throttle(maxOpenFiles);
    this.queueSet = new Set(spoolable.queues);
  }

  checkQueue(queue: unknown, field = 'queue'): Q {
    if (typeof queue !== 'string' || !this.queueSet.has(queue)) {
      throw new InvalidArgumentError(
        field,
        `${JSON.stringify(queue)} is not a queue of this spool (its queues: ${[...this.queueSet].join(', ')})`,
      );
    }
    return queue as Q;
  }

  checkName(name: unknown, field = 'name'): string {
    if (typeof name !== 'string' || !ENTRY_NAME_PATTERN.test(name)) {
      throw new InvalidArgumentError(
        field,
        `${JSON.stringify(name)} is not an entry name (letters, digits, "_", "-", "." and at most 200 characters)`,
      );
    }
    return name;
  }

  encodeMetadata(metadata: M, field = 'metadata'): Buffer {
    let body: Uint8Array | string;
    try {
      body = this.spoolable.metadata.encode(metadata);
    } catch (error) {
      throw new InvalidArgumentError(field, `cannot be encoded: ${(error as Error).message}`, { cause: error });
    }
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new InvalidArgumentError(field, 'the metadata codec returned neither a string nor bytes');
    }
    return encodeMetadataFile(this.spoolable.metadata.version, body);
  }

  encodeData(data: D, field = 'data'): Buffer {
    let bytes: Uint8Array | string;
    try {
      bytes = this.spoolable.data.encode(data);
    } catch (error) {
      throw new InvalidArgumentError(field, `cannot be encoded: ${(error as Error).message}`, { cause: error });
    }
    if (typeof bytes === 'string') return Buffer.from(bytes, 'utf8');
    if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    throw new InvalidArgumentError(field, 'the data codec returned neither a string nor bytes');
  }

  decodeMetadata(bytes: Buffer, file: string): M {
    const { version, body } = decodeMetadataFile(bytes, file);
    const current = this.spoolable.metadata.version;
    if (version > current) {
      throw new NewerMetadataError(`${file} holds metadata version ${version}, newer than this release's ${current}`, {
        file,
      });
    }
    try {
      return this.spoolable.metadata.decode(body, version);
    } catch (error) {
      if (error instanceof CorruptDataError) throw error;
      throw new CorruptDataError(
        `${file} holds metadata that does not decode: ${(error as Error).message}`,
        { file },
        {
          cause: error,
        },
      );
    }
  }

  async readMetadataAt(path: string): Promise<M> {
    const bytes = await this.throttle.run(() => readFileAsync(path));
    return this.decodeMetadata(bytes, path);
  }

  /**
   * Reserves exactly `name`: true when this call made the reservation, false when the name is
   * taken. The registry file is a hard link to a small file holding this process's token, so it
   * appears atomically with its content (an O_EXCL create then a write would leave, if killed
   * between the two, a reservation that names no one).
   */
  async reserveExact(name: string): Promise<boolean> {
    const target = this.layout.registryPath(name);
    for (let fresh = 0; ; fresh++) {
      const source = await this.tokenFile();
      try {
        await linkAsync(source, target);
        return true;
      } catch (error) {
        const code = errnoOf(error);
        if (code === 'EEXIST') return false;
        // EMLINK: the token file has as many links as the file system allows; ENOENT: someone
        // deleted it. Either way a new one does.
        if ((code === 'EMLINK' || code === 'ENOENT') && fresh < 3) {
          this.tokenFilePromise = undefined;
          continue;
        }
        throw storageError(`cannot reserve the name ${name} in ${this.dir}`, error);
      }
    }
  }

  private tokenFilePromise: Promise<string> | undefined;
  private tokenFiles = 0;

  private tokenFile(): Promise<string> {
    if (!this.tokenFilePromise) {
      const path = this.layout.scratchPath(`reserve-${this.tokenFiles++}`, this.owner, 'tok');
      const made = writeDurable(path, Buffer.from(this.owner, 'latin1'), false).then(() => path);
      made.catch(() => {
        if (this.tokenFilePromise === made) this.tokenFilePromise = undefined;
      });
      this.tokenFilePromise = made;
    }
    return this.tokenFilePromise;
  }

  async releaseReservation(name: string): Promise<void> {
    await unlinkIfPresent(this.layout.registryPath(name));
  }

  /**
   * Puts a new entry in place under a name this process has reserved. The order is what recovery
   * relies on: the scratch metadata file (`.enq`) exists before the data file does, so a process
   * killed half way leaves a scratch file that names everything to clean up; the reservation and
   * the data are durable before the metadata appears in the queue; the queue folder is fsynced
   * before the caller hears of success. On failure nothing of the entry is left behind.
   */
  async writeEntry(queue: Q, name: string, metadata: Buffer, data: Buffer): Promise<void> {
    const { layout } = this;
    const scratch = layout.scratchPath(name, this.owner, 'enq');
    const dataPath = layout.dataPath(name);
    const target = layout.entryPath(queue, name);
    let placed = false;
    try {
      await this.throttle.run(async () => {
        const fd = await openAsync(scratch, 'wx', FILE_MODE);
        try {
          await writeAll(fd, metadata);
          await Promise.all([fdatasyncAsync(fd), writeDurable(dataPath, data, false)]);
        } finally {
          await closeAsync(fd);
        }
      });
      await Promise.all([this.syncer.sync(layout.registry), this.syncer.sync(layout.data)]);
      await renameAsync(scratch, target);
      placed = true;
      await this.syncer.sync(layout.queueDir(queue));
    } catch (error) {
      if (placed) {
        // Visible already: take it back unless another process has checked it out meanwhile.
        try {
          await renameAsync(target, scratch);
        } catch (undo) {
          this.log('error', 'a new entry could not be made durable and is left in its queue', {
            spool: this.dir,
            queue,
            name,
            error: (undo as Error).message,
          });
          throw storageError(`cannot enqueue ${name} in ${this.dir}`, error);
        }
      }
      await Promise.all([unlinkIfPresent(scratch), unlinkIfPresent(dataPath)]).catch(() => {});
      await this.releaseReservation(name).catch(() => {});
      throw storageError(`cannot enqueue ${name} in ${this.dir}`, error);
    }
  }

  /** Checks an entry out by renaming it into the queue's `.checkout` folder: only one process can win the rename. */
  async checkout(queue: Q, name: string): Promise<string | 'not-found'> {
    const held = this.layout.checkoutPath(queue, name, this.owner);
    try {
      await renameAsync(this.layout.entryPath(queue, name), held);
      return held;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return 'not-found';
      throw storageError(`cannot check out ${queue}/${name} in ${this.dir}`, error);
    }
  }

  /**
   * New metadata for a checked-out entry, then into `toQueue`: the new metadata replaces the
   * checked-out file by rename (so the entry is never without whole metadata), then moves.
   */
  async saveCheckedOut(fromQueue: Q, name: string, metadata: Buffer, toQueue: Q): Promise<void> {
    const { layout } = this;
    const held = layout.checkoutPath(fromQueue, name, this.owner);
    const scratch = layout.scratchPath(name, this.owner, 'save');
    try {
      await this.throttle.run(() => writeDurable(scratch, metadata, false));
      await renameAsync(scratch, held);
      await renameAsync(held, layout.entryPath(toQueue, name));
      await Promise.all([this.syncer.sync(layout.queueDir(toQueue)), this.syncer.sync(layout.checkoutDir(fromQueue))]);
    } catch (error) {
      await unlinkIfPresent(scratch).catch(() => {});
      throw storageError(`cannot save ${fromQueue}/${name} to ${toQueue} in ${this.dir}`, error);
    }
  }

  /** Puts a checked-out entry back where it was, unchanged. */
  async releaseCheckedOut(queue: Q, name: string): Promise<void> {
    try {
      await renameAsync(this.layout.checkoutPath(queue, name, this.owner), this.layout.entryPath(queue, name));
    } catch (error) {
      throw storageError(`cannot give ${queue}/${name} back in ${this.dir}`, error);
    }
  }

  /**
   * Removes a checked-out entry: first out of its queue into scratch (`.rm`, fsynced, so the
   * removal is durable and a crash after it is finished by recovery), then data, then the name.
   */
  async removeCheckedOut(queue: Q, name: string): Promise<void> {
    const { layout } = this;
    const scratch = layout.scratchPath(name, this.owner, 'rm');
    try {
      await renameAsync(layout.checkoutPath(queue, name, this.owner), scratch);
      await this.syncer.sync(layout.checkoutDir(queue));
      await unlinkIfPresent(layout.dataPath(name));
      await unlinkIfPresent(layout.registryPath(name));
      await unlinkIfPresent(scratch);
    } catch (error) {
      throw storageError(`cannot remove ${queue}/${name} in ${this.dir}`, error);
    }
  }

  /**
   * Gives new metadata to an entry whose metadata was lost (moved aside as corrupt): its name must
   * still be reserved, its data present, and the name in no queue. link() rather than rename, so
   * an entry that appeared meanwhile is never overwritten.
   */
  async reinstate(queue: Q, name: string, metadata: Buffer): Promise<void> {
    const { layout } = this;
    if (!(await exists(layout.registryPath(name))) || !(await exists(layout.dataPath(name)))) {
      throw new ResourceNotFoundError('spool entry data', name);
    }
    for (const q of this.spoolable.queues) {
      const held = (await listNames(layout.checkoutDir(q))).some((f) => f.startsWith(`${name}@`));
      if (held || (await exists(layout.entryPath(q, name)))) {
        throw new ResourceConflictError('spool entry', name, `is in queue ${q} already`);
      }
    }
    const scratch = layout.scratchPath(name, this.owner, 'save');
    try {
      await writeDurable(scratch, metadata, false);
      await linkAsync(scratch, layout.entryPath(queue, name));
      await this.syncer.sync(layout.queueDir(queue));
    } catch (error) {
      if (errnoOf(error) === 'EEXIST')
        throw new ResourceConflictError('spool entry', name, `is in queue ${queue} already`);
      throw storageError(`cannot reinstate ${name} in ${this.dir}`, error);
    } finally {
      await unlinkIfPresent(scratch).catch(() => {});
    }
  }

  /** Moves unreadable metadata to `.corrupt/<queue>/`, where it blocks nothing, and says so in the log. */
  async moveToCorrupt(queue: string, name: string, from: string, reason: Error): Promise<string> {
    const dir = join(this.layout.corrupt, queue);
    await mkdirAsync(dir, { recursive: true });
    let target = join(dir, name);
    for (let n = 1; await exists(target); n++) target = join(dir, `${name}.${n}`);
    await renameAsync(from, target);
    await this.syncer.sync(dir);
    this.log('warn', 'unreadable metadata moved aside', {
      spool: this.dir,
      queue,
      name,
      movedTo: target,
      error: reason.message,
    });
    return target;
  }
}
