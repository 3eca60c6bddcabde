import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FolderLock, LockedError } from '../../src/core/index.js';

const holder = new URL('../fixtures/lock-holder.ts', import.meta.url).pathname;
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-lock-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(dir: string, mode: 'hold' | 'try'): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', holder, dir, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => resolve(out.trim()));
    child.on('error', reject);
  });
  return { child, line };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve()),
  );
}

describe('core: folder lock', () => {
  it('a second open in the same process fails at once, naming the folder and this pid', () => {
    const dir = tempDir();
    const lock = FolderLock.acquire(dir);
    assert.throws(
      () => FolderLock.acquire(dir),
      (e) => e instanceof LockedError && e.ownerPid === process.pid && e.path === dir && e.message.includes(dir),
    );
    lock.release();
    FolderLock.acquire(dir).release();
  });

  it('another process is refused with the owner’s pid while the owner lives, and takes over once it is killed', async () => {
    const dir = tempDir();
    const owner = run(dir, 'hold');
    assert.equal(await owner.line, 'locked');
    assert.throws(
      () => FolderLock.acquire(dir),
      (e) => e instanceof LockedError && e.ownerPid === owner.child.pid,
    );
    assert.equal(await run(dir, 'try').line, `refused ${owner.child.pid}`);
    owner.child.kill('SIGKILL');
    await exited(owner.child);
    const lock = FolderLock.acquire(dir);
    assert.equal(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid, process.pid);
    lock.release();
  });

  it('a lock naming a dead or recycled process, or half written, is taken over', () => {
    for (const content of [
      JSON.stringify({ pid: 2 ** 22 + 12345, started: '1', host: '' }),
      JSON.stringify({ pid: process.ppid, started: 'not-its-start-time' }),
      '{"pid": 12',
    ]) {
      const dir = tempDir();
      writeFileSync(join(dir, '.lock'), content);
      const lock = FolderLock.acquire(dir);
      assert.equal(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid, process.pid, content);
      lock.release();
    }
  });

  it('a lock file just made but not yet written is not taken for stale', async () => {
    const dir = tempDir();
    const path = join(dir, '.lock');
    // A maker as FolderLock is one: O_EXCL first, the owner written a moment later.
    const maker = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const fd = fs.openSync(${JSON.stringify(path)}, 'wx');
         process.stdout.write('made\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
         const stat = fs.readFileSync('/proc/self/stat', 'utf8');
         const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
         fs.writeSync(fd, JSON.stringify({ pid: process.pid, started, host: require('node:os').hostname() }));
         fs.closeSync(fd);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => maker.stdout?.once('data', () => resolve()));
      assert.throws(
        () => FolderLock.acquire(dir),
        (e) => e instanceof LockedError && e.ownerPid === maker.pid,
        'the maker keeps its lock',
      );
      assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, maker.pid);
    } finally {
      maker.kill('SIGKILL');
      await exited(maker);
    }
  });

  it('when several processes race for a stale lock, exactly one gets it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: 2 ** 22 + 999, started: '1', host: '' }));
    const racers = Array.from({ length: 6 }, () => run(dir, 'hold'));
    const lines = await Promise.all(racers.map((r) => r.line));
    for (const r of racers) r.child.kill('SIGKILL');
    await Promise.all(racers.map((r) => exited(r.child)));
    assert.equal(lines.filter((l) => l === 'locked').length, 1, lines.join(', '));
    const winner = racers[lines.indexOf('locked')]?.child.pid;
    for (const l of lines.filter((x) => x !== 'locked')) assert.equal(l, `refused ${winner}`);
  });
});

/** Waits (without a time bound of its own: the test runner's timeout is the bound) until `ready()` holds. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setImmediate(r));
}

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

const linux = existsSync('/proc/self/stat');
const linuxOnly = linux ? {} : { skip: 'needs /proc (Linux) to make and see zombie processes' };
if (!linux) console.log('# skipped: zombie and dying-owner lock tests need /proc (Linux)');

describe('core: folder lock, owners that are dead but not gone', () => {
  it('a zombie owner (exited, not reaped by its parent) is taken over', linuxOnly, async () => {
    const dir = tempDir();
    // `sh` starts a short child, prints its pid, then becomes `sleep`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = Number(
        await new Promise<string>((resolve) => parent.stdout?.once('data', (chunk) => resolve(String(chunk)))),
      );
      await until(() => procState(pid) === 'Z');
      const started = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const start = started.slice(started.lastIndexOf(')') + 2).split(' ')[19];
      writeFileSync(join(dir, '.lock'), JSON.stringify({ pid, started: start, host: hostname() }));
      const lock = FolderLock.acquire(dir);
      assert.equal(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid, process.pid);
      lock.release();
    } finally {
      parent.kill('SIGKILL');
      await exited(parent);
    }
  });

  it('a live owner is still refused, even one that is only sleeping', async () => {
    const dir = tempDir();
    const owner = run(dir, 'hold');
    try {
      assert.equal(await owner.line, 'locked');
      assert.throws(
        () => FolderLock.acquire(dir),
        (e) => e instanceof LockedError && e.ownerPid === owner.child.pid,
      );
    } finally {
      owner.child.kill('SIGKILL');
      await exited(owner.child);
    }
  });

  it(
    'an owner SIGKILLed a moment ago (dying, or a zombie not yet reaped) is taken over at once, again and again',
    linuxOnly,
    async () => {
      const dir = tempDir();
      for (let round = 0; round < 5; round++) {
        const owner = run(dir, 'hold');
        assert.equal(await owner.line, 'locked', `round ${round}`);
        owner.child.kill('SIGKILL');
        // No await between the kill and the acquire: this process cannot have reaped the child,
        // so it is dying or a zombie — as a server killed by a supervisor that restarts at once.
        const lock = FolderLock.acquire(dir);
        assert.equal(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid, process.pid, `round ${round}`);
        lock.release();
        await exited(owner.child);
      }
    },
  );

  it('on a full disk the lock is a symlink naming the owner, refused and released like the file', async () => {
    const dir = tempDir();
    symlinkSync(`posthorn-lock:${process.ppid}::${hostname()}`, join(dir, '.lock'));
    assert.throws(
      () => FolderLock.acquire(dir),
      (e) => e instanceof LockedError && e.ownerPid === process.ppid,
    );
    assert.deepEqual(FolderLock.owner(dir), { pid: process.ppid });
  });
});

describe('core: folder lock on a full disk (real tmpfs)', () => {
  it('a lock is taken on a disk with no space left, as a symlink naming the owner, and released', (t) => {
    const why =
      process.platform !== 'linux'
        ? 'needs Linux to mount a small tmpfs'
        : process.getuid?.() !== 0
          ? 'needs root to mount a small tmpfs'
          : null;
    const dir = tempDir();
    const mounted = why === null ? spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]) : null;
    const reason = why ?? (mounted?.status === 0 ? null : `mount -t tmpfs failed: ${String(mounted?.stderr).trim()}`);
    if (reason !== null) {
      console.log(`# skipped: ${reason}`);
      t.skip(reason);
      return;
    }
    try {
      // Fill the disk: write until ENOSPC.
      assert.throws(() => writeFileSync(join(dir, 'filler'), Buffer.alloc(1 << 20)), /ENOSPC/);
      assert.throws(() => writeFileSync(join(dir, 'probe'), 'x'), /ENOSPC/);
      const lock = FolderLock.acquire(dir);
      assert.ok(lstatSync(join(dir, '.lock')).isSymbolicLink());
      assert.deepEqual(FolderLock.owner(dir), { pid: process.pid });
      lock.release();
      assert.equal(existsSync(join(dir, '.lock')), false);
      FolderLock.acquire(dir).release();
    } finally {
      spawnSync('umount', [dir]);
    }
  });
});
