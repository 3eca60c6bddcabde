import { constants } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { LockedError, StorageUnavailableError } from './errors.js';
import { type FileIo, nodeFileIo } from './file-io.js';
import { processStartTime, processState } from './process-start.js';

/**
 * One owner per folder (a store, a spool). The lock is a file `.lock` made with O_EXCL that
 * names the owner: pid, the process's start time (so a recycled pid is not mistaken for the
 * owner) and host. A lock whose owner is dead is taken over; the takeover itself is serialized
 * by a second O_EXCL file so two processes cannot both take over the same stale lock.
 * An owner that is a zombie, or dying (SIGKILLed or exiting, as when a supervisor restarts a
 * killed server at once), is not alive: it can never write again, so after a bounded wait for
 * it to finish exiting its lock is taken over.
 * On a full disk the lock file cannot be written; the owner is then kept as the target of a
 * symlink `.lock`, which needs no data block (short targets live in the inode), so a server can
 * still start on a full disk — where reads, claims and deletes are what free space.
 * Not for network filesystems, where O_EXCL and pids mean nothing (as async_smtp's Spool says).
 * Its file operations go through a FileIo (synchronous ones: taking a lock is a short, rare
 * step of opening, and FolderLock.acquire is called by synchronous code), so tests can fail them.
 */

interface Owner {
  pid: number;
  started: string | null;
  host: string;
}

const held = new Set<string>();
const TAKEOVER_STALE_MS = 10_000;
const TAKEOVER_WAIT_MS = 5_000;
/** How long a dying owner is given to become a zombie or vanish before its lock is taken anyway. */
const DYING_WAIT_MS = 3_000;
const LINK_PREFIX = 'posthorn-lock:';
const pause = new Int32Array(new SharedArrayBuffer(4));

export class FolderLock {
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly path: string,
    private readonly io: FileIo,
  ) {}

  /** Takes the folder's lock or throws LockedError naming the folder and the owner's pid. */
  static acquire(dir: string, fileName = '.lock', io: FileIo = nodeFileIo): FolderLock {
    const path = resolve(join(dir, fileName));
    if (held.has(path)) throw new LockedError(resolve(dir), process.pid);
    const me = currentOwner();
    const deadline = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      if (tryCreate(io, path, me)) {
        held.add(path);
        return new FolderLock(resolve(dir), path, io);
      }
      const owner = readOwner(io, path);
      if (owner && isOwnerAlive(owner, path)) throw new LockedError(resolve(dir), owner.pid);
      // A lock file that names nobody may be one another process has just made (O_EXCL) and not
      // yet written: taking it over would give the lock to two. Only an old one is stale.
      if ((owner === null && beingWritten(io, path)) || !takeOverStale(io, path, owner)) {
        // Another process is writing the lock or taking a stale one over: wait, then look again.
        if (Date.now() > deadline) throw new LockedError(resolve(dir), owner?.pid ?? null);
        Atomics.wait(pause, 0, 0, 5);
      }
    }
  }

  /** Whether `dir` is locked by a live owner other than this process, and by whom. */
  static owner(dir: string, fileName = '.lock', io: FileIo = nodeFileIo): { pid: number } | null {
    const path = resolve(join(dir, fileName));
    const owner = readOwner(io, path);
    return owner && isOwnerAlive(owner, path) ? { pid: owner.pid } : null;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.path);
    try {
      const owner = readOwner(this.io, this.path);
      if (owner && owner.pid === process.pid) this.io.unlinkSync(this.path);
    } catch {
      // Already gone, or cannot be removed: a lock naming this process that it no longer holds
      // is taken over by the next acquire (isOwnerAlive), here or in any other process.
    }
  }
}

/** How long an empty or half-written lock file is taken to be one its maker is still writing. */
const WRITING_GRACE_MS = 2_000;

/** Whether `path` names nobody yet but was made so recently that its maker may still be writing it. */
function beingWritten(io: FileIo, path: string): boolean {
  try {
    return Date.now() - io.statSync(path).mtimeMs < WRITING_GRACE_MS;
  } catch {
    return false; // gone: look again at once
  }
}

function currentOwner(): Owner {
  return { pid: process.pid, started: processStartTime(process.pid), host: hostname() };
}

function tryCreate(io: FileIo, path: string, owner: Owner): boolean {
  let fd: number;
  try {
    fd = io.openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if (isFull(error)) return tryLink(io, path, owner, error);
    throw new StorageUnavailableError(`cannot create the lock file ${path}`, { cause: error });
  }
  let failure: unknown = null;
  try {
    const data = Buffer.from(JSON.stringify(owner));
    // A short write leaves a partial file that names nobody: treat it as a failed write.
    if (io.writevSync(fd, [data], 0) !== data.length) {
      throw Object.assign(new Error(`short write of the lock file ${path}`), { code: 'ENOSPC' });
    }
    io.fsyncSync(fd);
  } catch (error) {
    failure = error;
  } finally {
    try {
      io.closeSync(fd);
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure === null) return true;
  // An empty or partial lock file names nobody: remove it so it cannot be taken for stale.
  try {
    io.unlinkSync(path);
  } catch (error) {
    throw new StorageUnavailableError(`cannot remove the partial lock file ${path}`, { cause: error });
  }
  if (isFull(failure)) return tryLink(io, path, owner, failure);
  throw new StorageUnavailableError(`cannot write the lock file ${path}`, { cause: failure });
}

function isFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The full-disk lock: a symlink whose target names the owner, made atomically (EEXIST if taken). */
function tryLink(io: FileIo, path: string, owner: Owner, full: unknown): boolean {
  try {
    io.symlinkSync(`${LINK_PREFIX}${owner.pid}:${owner.started ?? ''}:${owner.host}`, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StorageUnavailableError(`cannot create the lock file ${path}: the disk is full`, {
      cause: isFull(error) ? full : error,
    });
  }
}

function readLink(io: FileIo, path: string): Owner | null | undefined {
  let target: string;
  try {
    target = io.readlinkSync(path);
  } catch {
    return undefined; // not a symlink (or gone): read it as a file
  }
  if (!target.startsWith(LINK_PREFIX)) return null;
  const [pid, started, ...host] = target.slice(LINK_PREFIX.length).split(':');
  if (!/^[1-9][0-9]*$/.test(pid ?? '')) return null;
  return { pid: Number(pid), started: started || null, host: host.join(':') };
}

function readOwner(io: FileIo, path: string): Owner | null {
  const linked = readLink(io, path);
  if (linked !== undefined) return linked;
  try {
    const parsed = JSON.parse(io.readFileSync(path).toString('utf8')) as Partial<Owner>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, started: parsed.started ?? null, host: parsed.host ?? '' };
  } catch {
    // Missing, or half-written by an owner that died while writing it: no live owner.
    return null;
  }
}

/**
 * Whether the lock at `path` has a live owner. A lock naming this very process that it does not
 * hold is left from a release that could not remove it: stale, like a dead process's.
 */
function isOwnerAlive(owner: Owner, path: string): boolean {
  if (owner.pid === process.pid && (!owner.host || owner.host === hostname())) return held.has(path);
  return isAlive(owner);
}

function isAlive(owner: Owner): boolean {
  if (owner.host && owner.host !== hostname()) return true; // cannot tell; assume it lives
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStartTime(owner.pid);
  if (!(owner.started === null || started === null || started === owner.started)) return false;
  return !exitsWithin(owner.pid, DYING_WAIT_MS);
}

/**
 * Whether the process is a zombie, or dying and gone or a zombie within `ms` (a dying process
 * that is still not done after that is taken as gone too: it can never run code of its own
 * again). False for a process that runs — the only kind of owner that keeps its lock.
 */
function exitsWithin(pid: number, ms: number): boolean {
  const state = processState(pid);
  if (state === 'zombie') return true;
  if (state !== 'dying') return false;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const now = processState(pid);
    if (now === 'zombie' || now === 'unknown') return true;
    Atomics.wait(pause, 0, 0, 5);
  }
  return true;
}

/** Moves a stale lock aside; false when another process holds the takeover guard. */
function takeOverStale(io: FileIo, path: string, stale: Owner | null): boolean {
  const guard = `${path}.takeover`;
  try {
    if (Date.now() - io.statSync(guard).mtimeMs > TAKEOVER_STALE_MS) io.unlinkSync(guard);
  } catch {
    // No guard file: the usual case.
  }
  if (!tryCreate(io, guard, currentOwner())) return false;
  try {
    const now = readOwner(io, path);
    const same =
      now === null ? stale === null : stale !== null && now.pid === stale.pid && now.started === stale.started;
    // Looked at again under the guard: the file may have been replaced by a fresh one meanwhile.
    if (same && !(now ? isOwnerAlive(now, path) : beingWritten(io, path))) {
      // Move the stale lock aside rather than unlink it, so a crash here leaves evidence, not nothing.
      try {
        io.renameSync(path, `${path}.stale`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  } finally {
    try {
      io.unlinkSync(guard);
    } catch (error) {
      // Left behind, the guard blocks takeovers until it is TAKEOVER_STALE_MS old.
      // biome-ignore lint/correctness/noUnsafeFinally: the failure to report is this one
      throw new StorageUnavailableError(`cannot remove the lock takeover guard ${guard}`, { cause: error });
    }
  }
  return true;
}
