import {
  closeSync,
  constants,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { LockedError, StorageUnavailableError } from './errors.js';
import { processStartTime } from './process-start.js';

/**
 * One owner per folder (a store, a spool). The lock is a file `.lock` made with O_EXCL that
 * names the owner: pid, the process's start time (so a recycled pid is not mistaken for the
 * owner) and host. A lock whose owner is dead is taken over; the takeover itself is serialized
 * by a second O_EXCL file so two processes cannot both take over the same stale lock.
 * Not for network filesystems, where O_EXCL and pids mean nothing (as async_smtp's Spool says).
 */

interface Owner {
  pid: number;
  started: string | null;
  host: string;
}

const held = new Set<string>();
const TAKEOVER_STALE_MS = 10_000;
const TAKEOVER_WAIT_MS = 5_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

export class FolderLock {
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly path: string,
  ) {}

  /** Takes the folder's lock or throws LockedError naming the folder and the owner's pid. */
  static acquire(dir: string, fileName = '.lock'): FolderLock {
    const path = resolve(join(dir, fileName));
    if (held.has(path)) throw new LockedError(resolve(dir), process.pid);
    const me = currentOwner();
    const deadline = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      if (tryCreate(path, me)) {
        held.add(path);
        return new FolderLock(resolve(dir), path);
      }
      const owner = readOwner(path);
      if (owner && isAlive(owner)) throw new LockedError(resolve(dir), owner.pid);
      if (!takeOverStale(path, owner)) {
        // Another process is taking the stale lock over: wait for it to finish, then look again.
        if (Date.now() > deadline) throw new LockedError(resolve(dir), owner?.pid ?? null);
        Atomics.wait(pause, 0, 0, 5);
      }
    }
  }

  /** Whether `dir` is locked by a live owner other than this process, and by whom. */
  static owner(dir: string, fileName = '.lock'): { pid: number } | null {
    const owner = readOwner(resolve(join(dir, fileName)));
    return owner && isAlive(owner) ? { pid: owner.pid } : null;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this.path);
    try {
      const owner = readOwner(this.path);
      if (owner && owner.pid === process.pid) unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function currentOwner(): Owner {
  return { pid: process.pid, started: processStartTime(process.pid), host: hostname() };
}

function tryCreate(path: string, owner: Owner): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StorageUnavailableError(`cannot create the lock file ${path}`, { cause: error });
  }
  try {
    writeSync(fd, JSON.stringify(owner));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readOwner(path: string): Owner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, started: parsed.started ?? null, host: parsed.host ?? '' };
  } catch {
    // Missing, or half-written by an owner that died while writing it: no live owner.
    return null;
  }
}

function isAlive(owner: Owner): boolean {
  if (owner.host && owner.host !== hostname()) return true; // cannot tell; assume it lives
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const started = processStartTime(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

/** Moves a stale lock aside; false when another process holds the takeover guard. */
function takeOverStale(path: string, stale: Owner | null): boolean {
  const guard = `${path}.takeover`;
  try {
    if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_STALE_MS) unlinkSync(guard);
  } catch {
    // No guard file: the usual case.
  }
  if (!tryCreate(guard, currentOwner())) return false;
  try {
    const now = readOwner(path);
    const same =
      now === null ? stale === null : stale !== null && now.pid === stale.pid && now.started === stale.started;
    if (same && !(now && isAlive(now))) {
      // Move the stale lock aside rather than unlink it, so a crash here leaves evidence, not nothing.
      try {
        renameSync(path, `${path}.stale`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  } finally {
    unlinkSync(guard);
  }
  return true;
}
