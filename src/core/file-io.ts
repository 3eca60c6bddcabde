import fs from 'node:fs';
import { promisify } from 'node:util';

/**
 * The file operations a durable part is made of, as one interface, so a test can put a faulty
 * one in their place (SQLite's VFS idea): fail the Nth operation with ENOSPC or EIO, or make a
 * write short, and check that nothing acknowledged is lost and that the part works once the
 * fault clears. Production code uses `nodeFileIo`, a thin layer over Node's callback API.
 */
export interface FileIo {
  open(path: string, flags: string | number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes up to `length` bytes of `data` from `offset`; answers how many were written. */
  write(fd: number, data: Uint8Array, offset: number, length: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<fs.Stats>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Reads up to `length` bytes at `position` into `buffer` from `offset`; answers how many were read. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  ftruncate(fd: number, length: number): Promise<void>;
  /*
   * Synchronous calls, for the few paths of the disk store that must not yield: a log segment
   * is opened (rotated) and a batch copied into the page cache inside a commit, and a body is
   * read inside a synchronous read of the state. Each costs microseconds, less than a round trip
   * through the thread pool; only waits for the device (fsync) run off the main thread.
   */
  openSync(path: string, flags: string | number, mode?: number): number;
  closeSync(fd: number): void;
  /** Writes the buffers at `position`, in one writev; answers how many bytes were written (maybe fewer). */
  writevSync(fd: number, buffers: readonly Uint8Array[], position: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  // For the folder lock, which is taken synchronously (see FolderLock).
  unlinkSync(path: string): void;
  renameSync(from: string, to: string): void;
  symlinkSync(target: string, path: string): void;
  readlinkSync(path: string): string;
  readFileSync(path: string): Buffer;
  statSync(path: string): fs.Stats;
  /** Free space of the file system holding `path`, for unprivileged writers: `bavail` blocks of `bsize` bytes. */
  statfsSync(path: string): { bavail: number; bsize: number };
}

/** The operations of FileIo, by name (what a fault plan counts). */
export type FileOp = keyof FileIo;

const write = (fd: number, data: Uint8Array, offset: number, length: number): Promise<number> =>
  new Promise((resolve, reject) =>
    fs.write(fd, data, offset, length, null, (error, written) => (error ? reject(error) : resolve(written))),
  );

export const nodeFileIo: FileIo = {
  open: promisify(fs.open) as FileIo['open'],
  close: promisify(fs.close),
  write,
  fsync: promisify(fs.fsync),
  fdatasync: promisify(fs.fdatasync),
  rename: promisify(fs.rename),
  link: promisify(fs.link),
  unlink: promisify(fs.unlink),
  readFile: promisify(fs.readFile) as (path: string) => Promise<Buffer>,
  readdir: promisify(fs.readdir) as (path: string) => Promise<string[]>,
  stat: promisify(fs.stat) as (path: string) => Promise<fs.Stats>,
  mkdir: async (path, options) => {
    await fs.promises.mkdir(path, options);
  },
  read: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) =>
      fs.read(fd, buffer, offset, length, position, (error, n) => (error ? reject(error) : resolve(n))),
    ),
  ftruncate: promisify(fs.ftruncate) as (fd: number, length: number) => Promise<void>,
  openSync: fs.openSync as FileIo['openSync'],
  closeSync: fs.closeSync,
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers as Uint8Array[], position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fsyncSync: fs.fsyncSync,
  statfsSync: (path) => fs.statfsSync(path),
  unlinkSync: fs.unlinkSync,
  renameSync: fs.renameSync,
  symlinkSync: (target, path) => fs.symlinkSync(target, path),
  readlinkSync: (path) => fs.readlinkSync(path, 'utf8'),
  readFileSync: (path) => fs.readFileSync(path),
  statSync: (path) => fs.statSync(path),
};

/** How an injected fault fails: an errno error, or a write that stops halfway (and then ENOSPC). */
export type FaultKind = 'ENOSPC' | 'EIO' | 'short-write';

/** An errno error as Node's fs makes them (code, errno, syscall, path). */
export function errnoError(code: 'ENOSPC' | 'EIO', syscall: string, path?: string): NodeJS.ErrnoException {
  const errno = code === 'ENOSPC' ? -28 : -5;
  const error = new Error(`${code}: injected fault, ${syscall}${path ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  error.code = code;
  error.errno = errno;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

/**
 * A FileIo that counts the operations it passes on and fails the `failAt`th (1-based) of those
 * `ops` name — and, with `sticky`, every one after it until `clear()` — so a test can walk N over
 * every operation of a workload. Reads are counted only when `ops` names them.
 */
export class FaultyFileIo implements FileIo {
  /** Operations counted so far (only those `ops` names). */
  count = 0;
  /** Whether the fault has fired. */
  fired = false;
  private cleared = false;
  /** With `loseUnsynced`: each open file's path and its size at its last fsync. */
  private readonly files = new Map<number, { path: string; synced: number }>();

  constructor(
    private readonly inner: FileIo,
    private readonly plan: {
      /** The operation to fail (1-based), or several (a fault while recovering from one). */
      failAt: number | readonly number[];
      kind: FaultKind;
      ops: readonly FileOp[];
      sticky?: boolean;
      /**
       * The worst case of a failed fsync: what it should have made durable is gone (the kernel
       * marked the dirty pages clean and may drop them), so the file is cut back to its size at
       * its last good fsync. A store that retried the fsync and acknowledged would be caught.
       */
      loseUnsynced?: boolean;
    },
  ) {}

  /** Stops failing: the disk has space again, the controller recovered. */
  clear(): void {
    this.cleared = true;
  }

  /** True when this call must fail. */
  private hit(op: FileOp): boolean {
    if (this.cleared || !this.plan.ops.includes(op)) return false;
    this.count++;
    const at = this.plan.failAt;
    const first = typeof at === 'number' ? at : Math.min(...at);
    const now =
      (typeof at === 'number' ? this.count === at : at.includes(this.count)) ||
      (this.plan.sticky === true && this.count > first);
    if (now) this.fired = true;
    return now;
  }

  private fail(op: FileOp, path?: string): never {
    throw errnoError(this.plan.kind === 'EIO' ? 'EIO' : 'ENOSPC', op, path);
  }

  async open(path: string, flags: string | number, mode?: number) {
    if (this.hit('open')) this.fail('open', path);
    const fd = await this.inner.open(path, flags, mode);
    if (this.plan.loseUnsynced) this.files.set(fd, { path, synced: (await this.inner.stat(path)).size });
    return fd;
  }
  async close(fd: number) {
    this.files.delete(fd);
    // A failed close still closes the descriptor (POSIX leaves it unspecified; Linux closes it).
    if (this.hit('close')) {
      await this.inner.close(fd);
      this.fail('close');
    }
    return this.inner.close(fd);
  }
  async write(fd: number, data: Uint8Array, offset: number, length: number) {
    if (this.hit('write')) {
      if (this.plan.kind === 'short-write' && length > 1) {
        return this.inner.write(fd, data, offset, Math.floor(length / 2));
      }
      this.fail('write');
    }
    return this.inner.write(fd, data, offset, length);
  }
  async fsync(fd: number) {
    if (this.hit('fsync')) await this.failSync(fd, 'fsync');
    await this.inner.fsync(fd);
    await this.synced(fd);
  }
  async fdatasync(fd: number) {
    if (this.hit('fdatasync')) await this.failSync(fd, 'fdatasync');
    await this.inner.fdatasync(fd);
    await this.synced(fd);
  }
  private async synced(fd: number): Promise<void> {
    const file = this.files.get(fd);
    if (file) file.synced = (await this.inner.stat(file.path)).size;
  }
  private async failSync(fd: number, op: FileOp): Promise<never> {
    const file = this.files.get(fd);
    if (file && (await this.inner.stat(file.path)).isFile()) await this.inner.ftruncate(fd, file.synced);
    this.fail(op);
  }
  async rename(from: string, to: string) {
    if (this.hit('rename')) this.fail('rename', from);
    return this.inner.rename(from, to);
  }
  async link(existing: string, path: string) {
    if (this.hit('link')) this.fail('link', path);
    return this.inner.link(existing, path);
  }
  async unlink(path: string) {
    if (this.hit('unlink')) this.fail('unlink', path);
    return this.inner.unlink(path);
  }
  async readFile(path: string) {
    if (this.hit('readFile')) this.fail('readFile', path);
    return this.inner.readFile(path);
  }
  async readdir(path: string) {
    if (this.hit('readdir')) this.fail('readdir', path);
    return this.inner.readdir(path);
  }
  async stat(path: string) {
    if (this.hit('stat')) this.fail('stat', path);
    return this.inner.stat(path);
  }
  async mkdir(path: string, options?: { recursive?: boolean }) {
    if (this.hit('mkdir')) this.fail('mkdir', path);
    return this.inner.mkdir(path, options);
  }
  async read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number) {
    if (this.hit('read')) this.fail('read');
    return this.inner.read(fd, buffer, offset, length, position);
  }
  async ftruncate(fd: number, length: number) {
    if (this.hit('ftruncate')) this.fail('ftruncate');
    return this.inner.ftruncate(fd, length);
  }
  openSync(path: string, flags: string | number, mode?: number) {
    if (this.hit('openSync')) this.fail('open', path);
    const fd = this.inner.openSync(path, flags, mode);
    // A file made by this open (as the log's segments are) has nothing durable yet.
    const made = typeof flags === 'number' && (flags & fs.constants.O_EXCL) !== 0;
    if (this.plan.loseUnsynced && made) this.files.set(fd, { path, synced: 0 });
    return fd;
  }
  closeSync(fd: number) {
    this.files.delete(fd);
    if (this.hit('closeSync')) {
      this.inner.closeSync(fd);
      this.fail('close');
    }
    this.inner.closeSync(fd);
  }
  writevSync(fd: number, buffers: readonly Uint8Array[], position: number) {
    if (this.hit('writevSync')) {
      const total = buffers.reduce((n, b) => n + b.length, 0);
      if (this.plan.kind === 'short-write' && total > 1) {
        // Half of the bytes reach the file, as when the disk fills in the middle of a writev.
        let left = Math.floor(total / 2);
        const part: Uint8Array[] = [];
        for (const b of buffers) {
          if (left === 0) break;
          part.push(b.length <= left ? b : b.subarray(0, left));
          left -= Math.min(left, b.length);
        }
        return this.inner.writevSync(fd, part, position);
      }
      this.fail('writevSync');
    }
    return this.inner.writevSync(fd, buffers, position);
  }
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number) {
    if (this.hit('readSync')) this.fail('read');
    return this.inner.readSync(fd, buffer, offset, length, position);
  }
  fsyncSync(fd: number) {
    if (this.hit('fsyncSync')) this.fail('fsync');
    this.inner.fsyncSync(fd);
  }
  statfsSync(path: string) {
    if (this.hit('statfsSync')) this.fail('statfsSync', path);
    return this.inner.statfsSync(path);
  }
  unlinkSync(path: string) {
    if (this.hit('unlinkSync')) this.fail('unlink', path);
    this.inner.unlinkSync(path);
  }
  renameSync(from: string, to: string) {
    if (this.hit('renameSync')) this.fail('rename', from);
    this.inner.renameSync(from, to);
  }
  symlinkSync(target: string, path: string) {
    if (this.hit('symlinkSync')) this.fail('symlinkSync', path);
    this.inner.symlinkSync(target, path);
  }
  readlinkSync(path: string) {
    if (this.hit('readlinkSync')) this.fail('readlinkSync', path);
    return this.inner.readlinkSync(path);
  }
  readFileSync(path: string) {
    if (this.hit('readFileSync')) this.fail('readFile', path);
    return this.inner.readFileSync(path);
  }
  statSync(path: string) {
    if (this.hit('statSync')) this.fail('stat', path);
    return this.inner.statSync(path);
  }
}

/** Fsyncs a folder through `io`, so that what was created, renamed or removed in it stays so. */
export async function syncDirWith(io: FileIo, path: string): Promise<void> {
  const fd = await io.open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
}

/** The synchronous syncDirWith, for a folder fsync inside a commit (a new log segment). */
export function syncDirWithSync(io: FileIo, path: string): void {
  const fd = io.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    io.fsyncSync(fd);
  } finally {
    io.closeSync(fd);
  }
}
