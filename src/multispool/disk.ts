import { type FileIo, nodeFileIo, StorageFullError, StorageUnavailableError } from '../core/index.js';

/**
 * The few file operations a spool is made of, with errno codes kept so callers can tell a lost
 * race (ENOENT on a rename) from a broken disk. They all go through one FileIo — Node's, unless
 * a test put a faulty one in its place with `useSpoolFileIo` — so a fault can be injected at any
 * of them.
 */
let io: FileIo = nodeFileIo;

/** Puts `replacement` in place of the spools' file operations (tests); answers the undo. */
export function useSpoolFileIo(replacement: FileIo): () => void {
  const before = io;
  io = replacement;
  return () => {
    io = before;
  };
}

/** The FileIo the spools use now (for the folder lock, which takes it as an argument). */
export const spoolFileIo = (): FileIo => io;

export const openAsync = (path: string, flags: string | number, mode?: number): Promise<number> =>
  io.open(path, flags, mode);
export const closeAsync = (fd: number): Promise<void> => io.close(fd);
export const fdatasyncAsync = (fd: number): Promise<void> => io.fdatasync(fd);
const fsyncAsync = (fd: number): Promise<void> => io.fsync(fd);
export const renameAsync = (from: string, to: string): Promise<void> => io.rename(from, to);
export const linkAsync = (existing: string, path: string): Promise<void> => io.link(existing, path);
const unlinkAsync = (path: string): Promise<void> => io.unlink(path);
export const readFileAsync = (path: string): Promise<Buffer> => io.readFile(path);
export const readdirAsync = (path: string): Promise<string[]> => io.readdir(path);
export const statAsync = (path: string) => io.stat(path);
export const mkdirAsync = (path: string, options?: { recursive?: boolean }): Promise<void> => io.mkdir(path, options);

/**
 * Spool files are readable by their owner only: spools carry mail and webhook payloads, which are
 * nobody else's business (Postfix keeps its queue private the same way).
 */
export const FILE_MODE = 0o600;

function writeAsync(fd: number, data: Uint8Array, offset: number): Promise<number> {
  return io.write(fd, data, offset, data.length - offset);
}

/** The errno code (ENOENT, EEXIST...) of a system error; undefined for anything else, typed errors included. */
export function errnoOf(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  return typeof e?.errno === 'number' || typeof e?.syscall === 'string' ? e.code : undefined;
}

/** Wraps a file-system failure in the typed error callers switch on. */
export function storageError(what: string, error: unknown): Error {
  const code = errnoOf(error);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new StorageFullError(`${what}: the disk is full`, { cause: error });
  return new StorageUnavailableError(`${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/**
 * Writes a whole new file and makes its contents durable before resolving. `fdatasync` is enough:
 * it flushes the data and the metadata needed to read it back (the size), which is all a reader
 * after a crash needs; the directory entry is made durable separately by a DirSyncer.
 */
export async function writeDurable(path: string, data: Uint8Array, exclusive = true): Promise<void> {
  const fd = await openAsync(path, exclusive ? 'wx' : 'w', FILE_MODE);
  try {
    await writeAll(fd, data);
    await fdatasyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

export async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length; ) offset += await writeAsync(fd, data, offset);
}

export async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlinkAsync(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await statAsync(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Names in a folder, or none when the folder does not exist. */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdirAsync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Group commit for directory fsyncs: a rename or a new file is durable only once its folder is
 * fsynced, and one fsync covers every change made in the folder before it started. Callers that
 * arrive while a sync runs share the next one, so N concurrent writers cost about two fsyncs,
 * not N.
 */
export class DirSyncer {
  private readonly dirs = new Map<string, { running: Promise<void> | null; queued: Promise<void> | null }>();

  sync(dir: string): Promise<void> {
    let state = this.dirs.get(dir);
    if (!state) {
      state = { running: null, queued: null };
      this.dirs.set(dir, state);
    }
    const s = state;
    if (s.queued) return s.queued;
    const start = (): Promise<void> => {
      s.queued = null;
      const run = fsyncDir(dir);
      s.running = run;
      run.then(
        () => {
          if (s.running === run) s.running = null;
        },
        () => {
          if (s.running === run) s.running = null;
        },
      );
      return run;
    };
    if (!s.running) return start();
    s.queued = s.running.then(start, start);
    return s.queued;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

/**
 * Bounds the files open at once (async_smtp's throttle does the same: "don't hit the max open
 * files system limit"); a caller enqueueing 100,000 entries at once waits here instead of
 * failing with EMFILE.
 */
export class Throttle {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
