import { randomUUID } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { readdir, readFile, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CorruptDataError,
  checkEnvelope,
  checkInteger,
  checkNonEmptyString,
  checkString,
  decodeValue,
  describe,
  type Envelope,
  encodeValue,
  InvalidArgumentError,
  KeyedSerializer,
  QueueError,
  ResourceNotFoundError,
  type SpooledEnvelope,
  syncDir,
} from '../core/index.js';

interface Meta {
  timestamp: number;
  attempts: number;
  delivered: number[];
}

const ID_PATTERN = /^[0-9a-f]{32}$/;

/**
 * slimta's DiskStorage: a mail queue's storage in two folders — each envelope in its own file
 * under `envDir`, written once and never changed, and a small volatile metadata file per
 * message under `metaDir` (next attempt, attempts so far, recipients delivered). Every file is
 * written in `tmpDir`, fsynced, renamed into place and its folder fsynced: unlike slimta, an
 * acknowledged write survives a crash. `tmpDir` must be on the same filesystem as the other two,
 * or the renames could not be atomic; a constructor given one that is not refuses it.
 */
export class DiskStorage {
  readonly envDir: string;
  readonly metaDir: string;
  readonly tmpDir: string;
  /** Changes to one message's metadata run one after another. */
  private readonly busy = new KeyedSerializer();

  constructor(envDir: string, metaDir: string, tmpDir?: string) {
    this.envDir = resolve(checkNonEmptyString(envDir, 'envDir'));
    this.metaDir = resolve(checkNonEmptyString(metaDir, 'metaDir'));
    this.tmpDir = resolve(
      tmpDir === undefined ? join(tmpdir(), 'posthorn-disk-storage') : checkNonEmptyString(tmpDir, 'tmpDir'),
    );
    try {
      for (const dir of [this.envDir, this.metaDir, this.tmpDir]) mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new QueueError(`cannot make the storage folders: ${(error as Error).message}`, { cause: error });
    }
    const device = statSync(this.tmpDir).dev;
    for (const [field, dir] of [
      ['envDir', this.envDir],
      ['metaDir', this.metaDir],
    ] as const) {
      if (statSync(dir).dev !== device) {
        throw new InvalidArgumentError(
          'tmpDir',
          `${this.tmpDir} is on another filesystem than ${field} ${dir}; files could not be renamed into place atomically`,
        );
      }
    }
  }

  /** Stores the envelope with the time of its next delivery attempt; returns its id. */
  async write(envelope: Envelope, timestamp: number): Promise<string> {
    const checked = checkEnvelope(envelope);
    checkTimestamp(timestamp);
    const id = randomUUID().replaceAll('-', '');
    const encoded = encodeValue(checked);
    // The envelope first, then the metadata that makes it part of the queue: a crash between
    // leaves an envelope nobody lists, never metadata without its envelope.
    await this.put(this.envDir, `${id}.env`, encoded);
    await this.putMeta(id, { timestamp, attempts: 0, delivered: [] });
    return id;
  }

  /** Sets when the message's next delivery attempt is due. */
  setTimestamp(id: string, timestamp: number): Promise<void> {
    checkTimestamp(timestamp);
    return this.change(id, (meta) => {
      meta.timestamp = timestamp;
    });
  }

  /** Counts one more delivery attempt; returns the new count. */
  async incrementAttempts(id: string): Promise<number> {
    let attempts = 0;
    await this.change(id, (meta) => {
      attempts = ++meta.attempts;
    });
    return attempts;
  }

  /** Marks recipients (indexes into the original envelope's list) delivered: later gets leave them out. */
  async setRecipientsDelivered(id: string, rcptIndexes: number[]): Promise<void> {
    if (!Array.isArray(rcptIndexes))
      throw new InvalidArgumentError('rcptIndexes', `must be an array, not ${describe(rcptIndexes)}`);
    const envelope = await this.readEnvelope(checkId(id));
    rcptIndexes.forEach((index, k) => {
      checkInteger(index, `rcptIndexes[${k}]`, 0, envelope.recipients.length - 1);
    });
    await this.change(id, (meta) => {
      meta.delivered = [...new Set([...meta.delivered, ...rcptIndexes])].sort((a, b) => a - b);
    });
  }

  /** Every queued message as [timestamp of its next attempt, id]. */
  async *load(): AsyncIterableIterator<[number, string]> {
    let names: string[];
    try {
      names = (await readdir(this.metaDir)).filter((f) => f.endsWith('.meta')).sort();
    } catch (error) {
      throw new QueueError(`cannot list ${this.metaDir}: ${(error as Error).message}`, { cause: error });
    }
    for (const name of names) {
      const id = name.slice(0, -'.meta'.length);
      if (!ID_PATTERN.test(id)) continue;
      try {
        yield [(await this.readMeta(id)).timestamp, id];
      } catch (error) {
        if (error instanceof ResourceNotFoundError) continue; // removed meanwhile
        throw error;
      }
    }
  }

  /** The envelope without its delivered recipients, and the attempts so far. */
  async get(id: string): Promise<[SpooledEnvelope, number]> {
    const meta = await this.readMeta(checkId(id));
    const envelope = await this.readEnvelope(id);
    const delivered = new Set(meta.delivered);
    return [{ ...envelope, recipients: envelope.recipients.filter((_, i) => !delivered.has(i)) }, meta.attempts];
  }

  /** Removes the message (delivered, or failed for good). */
  async remove(id: string): Promise<void> {
    checkId(id);
    await this.busy.run(id, async () => {
      // Metadata first: once it is gone the message is out of the queue whatever happens next.
      await this.unlinkDurably(this.metaDir, `${id}.meta`, id);
      await this.unlinkDurably(this.envDir, `${id}.env`, null);
    });
  }

  private change(id: string, edit: (meta: Meta) => void): Promise<void> {
    checkId(id);
    return this.busy.run(id, async () => {
      const meta = await this.readMeta(id);
      edit(meta);
      await this.putMeta(id, meta);
    });
  }

  private async readMeta(id: string): Promise<Meta> {
    const text = await this.readFile(this.metaDir, `${id}.meta`, id);
    try {
      const meta = JSON.parse(text.toString('utf8')) as Meta;
      if (typeof meta.timestamp !== 'number' || typeof meta.attempts !== 'number' || !Array.isArray(meta.delivered)) {
        throw new Error('missing fields');
      }
      return meta;
    } catch (error) {
      throw new QueueError(`metadata of ${id} is damaged`, {
        cause: new CorruptDataError(String(error), { file: join(this.metaDir, `${id}.meta`) }),
      });
    }
  }

  private async readEnvelope(id: string): Promise<SpooledEnvelope> {
    const bytes = await this.readFile(this.envDir, `${id}.env`, id);
    try {
      const value = decodeValue(bytes) as SpooledEnvelope;
      return {
        sender: value.sender,
        recipients: value.recipients,
        headers: value.headers,
        body: Buffer.from(value.body),
      };
    } catch (error) {
      throw new QueueError(`envelope of ${id} is damaged`, { cause: error });
    }
  }

  private async readFile(dir: string, name: string, id: string): Promise<Buffer> {
    try {
      return await readFile(join(dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ResourceNotFoundError('queued message', id);
      throw new QueueError(`cannot read ${join(dir, name)}: ${(error as Error).message}`, { cause: error });
    }
  }

  private putMeta(id: string, meta: Meta): Promise<void> {
    return this.put(this.metaDir, `${id}.meta`, Buffer.from(JSON.stringify(meta)));
  }

  /** Scratch file, fsync, rename into `dir`, fsync of `dir`. */
  private async put(dir: string, name: string, bytes: Uint8Array): Promise<void> {
    const tmp = join(this.tmpDir, `${name}.${randomUUID()}.tmp`);
    try {
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        let done = 0;
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      await rename(tmp, join(dir, name));
      syncDir(dir);
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw new QueueError(`cannot write ${join(dir, name)}: ${(error as Error).message}`, { cause: error });
    }
  }

  private async unlinkDurably(dir: string, name: string, notFoundId: string | null): Promise<void> {
    try {
      await unlink(join(dir, name));
      syncDir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (notFoundId !== null) throw new ResourceNotFoundError('queued message', notFoundId);
        return;
      }
      throw new QueueError(`cannot remove ${join(dir, name)}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function checkId(id: unknown): string {
  const text = checkString(id, 'id');
  if (!ID_PATTERN.test(text)) throw new InvalidArgumentError('id', 'is not an id this storage made');
  return text;
}

function checkTimestamp(value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError('timestamp', `must be a finite number of seconds, not ${describe(value)}`);
  }
}
