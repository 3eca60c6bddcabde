import { CorruptDataError, ResourceNotFoundError } from '../core/index.js';
import { errnoOf, readFileAsync, statAsync, storageError } from './disk.js';
import type { SpoolFiles } from './spool-files.js';

/**
 * A handle on an entry's data (async_smtp's `Data_file`): nothing is read until the caller asks,
 * so a worker that decides from the metadata alone never pays for a large payload.
 */
export class DataFile<D> {
  constructor(
    private readonly files: SpoolFiles<unknown, D, string>,
    readonly name: string,
  ) {}

  /** Where the data lives; it may be handed to sendfile or a stream. */
  get path(): string {
    return this.files.layout.dataPath(this.name);
  }

  async readBytes(): Promise<Buffer> {
    try {
      return await this.files.throttle.run(() => readFileAsync(this.path));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new ResourceNotFoundError('spool data file', this.path, { cause: error });
      throw storageError(`cannot read ${this.path}`, error);
    }
  }

  async read(): Promise<D> {
    const bytes = await this.readBytes();
    try {
      return this.files.spoolable.data.decode(bytes);
    } catch (error) {
      throw new CorruptDataError(`${this.path} holds data that does not decode: ${(error as Error).message}`, {
        file: this.path,
      });
    }
  }

  async size(): Promise<number> {
    try {
      return (await statAsync(this.path)).size;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw new ResourceNotFoundError('spool data file', this.path, { cause: error });
      throw storageError(`cannot stat ${this.path}`, error);
    }
  }
}
