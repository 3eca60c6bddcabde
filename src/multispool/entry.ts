import { ClosedError, ResourceNotFoundError } from '../core/index.js';
import { DataFile } from './data-file.js';
import { errnoOf, storageError } from './disk.js';
import type { SpoolFiles } from './spool-files.js';

/** What `f` decides for a checked-out entry: save it (new metadata, a queue) or remove it; and a result. */
export type EntryDecision<M, Q extends string> = { save: readonly [M, Q] } | 'remove';

export type EntryAction<M, D, Q extends string, R> = (
  metadata: M,
  dataFile: DataFile<D>,
) => Promise<readonly [EntryDecision<M, Q>, R]> | readonly [EntryDecision<M, Q>, R];

/**
 * A named entry in a queue. It is only a name: the entry may be taken or moved by another
 * process at any moment, which checking it out (withEntry, checkout) settles.
 */
export class Entry<M, D, Q extends string> {
  constructor(
    private readonly files: SpoolFiles<M, D, Q>,
    readonly queue: Q,
    readonly name: string,
  ) {}

  /** The metadata file's path while the entry sits in its queue. */
  get path(): string {
    return this.files.layout.entryPath(this.queue, this.name);
  }

  get dataFile(): DataFile<D> {
    return new DataFile(this.files as SpoolFiles<unknown, D, string>, this.name);
  }

  /**
   * Reads the metadata without checking the entry out (async_smtp's `Entry.Direct.contents`):
   * for looking, not for acting. ResourceNotFoundError when the entry is no longer in its queue.
   */
  async metadata(): Promise<M> {
    try {
      return await this.files.readMetadataAt(this.path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        throw new ResourceNotFoundError('spool entry', `${this.queue}/${this.name}`, { cause: error });
      }
      if (errnoOf(error) !== undefined) throw storageError(`cannot read ${this.path}`, error);
      throw error;
    }
  }
}

/**
 * An entry this process has checked out: no other process can take it until it is saved
 * (to any queue, with new metadata), removed, or released unchanged. If the process dies
 * first, the next Multispool.load anywhere puts it back in its queue.
 */
export class CheckedOutEntry<M, D, Q extends string> {
  private settled = false;

  constructor(
    private readonly files: SpoolFiles<M, D, Q>,
    /** The queue it was checked out of. */
    readonly queue: Q,
    readonly name: string,
    readonly metadata: M,
  ) {}

  get dataFile(): DataFile<D> {
    return new DataFile(this.files as SpoolFiles<unknown, D, string>, this.name);
  }

  /** Writes new metadata and puts the entry into `queue` (the same queue or another). */
  async save(metadata: M, queue: Q): Promise<Entry<M, D, Q>> {
    this.checkOpen();
    const target = this.files.checkQueue(queue);
    const bytes = this.files.encodeMetadata(metadata);
    await this.files.saveCheckedOut(this.queue, this.name, bytes, target);
    this.settled = true;
    return new Entry(this.files, target, this.name);
  }

  /** Deletes the entry: metadata, data and its name. */
  async remove(): Promise<void> {
    this.checkOpen();
    await this.files.removeCheckedOut(this.queue, this.name);
    this.settled = true;
  }

  /** Puts the entry back into the queue it came from, unchanged. */
  async release(): Promise<Entry<M, D, Q>> {
    this.checkOpen();
    await this.files.releaseCheckedOut(this.queue, this.name);
    this.settled = true;
    return new Entry(this.files, this.queue, this.name);
  }

  get isSettled(): boolean {
    return this.settled;
  }

  private checkOpen(): void {
    if (this.settled)
      throw new ClosedError(`checked-out entry ${this.queue}/${this.name} (already saved, removed or released)`);
  }
}
