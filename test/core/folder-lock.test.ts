import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
