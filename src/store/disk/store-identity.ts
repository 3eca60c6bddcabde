import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CorruptDataError, type FileIo, StorageUnavailableError, syncDirWith } from '../../core/index.js';
import { MessageIdCodec } from '../state/index.js';

/** `<dir>/store.json`: the format of the folder and the salt its message ids are made with. */
interface StoreIdentity {
  format: 1;
  tag: number;
  salt: number;
}

/**
 * The message id codec of the store in `dir`, from its store.json; a new store gets one (a
 * random salt, so ids of different stores never coincide), written whole in `scratchDir` and
 * renamed into place, so store.json is either whole or missing.
 */
export async function readStoreIdentity(io: FileIo, dir: string, scratchDir: string): Promise<MessageIdCodec> {
  const path = join(dir, 'store.json');
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
    const tmp = join(scratchDir, 'store.json');
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
    await syncDirWith(io, dir);
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
