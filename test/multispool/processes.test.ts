import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Multispool, silentLog } from '../../src/multispool/index.js';
import { freeze, thaw } from '../fixtures/process-freeze.js';
import { jobs, removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

const worker = new URL('../fixtures/spool-worker.ts', import.meta.url).pathname;
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) child.kill('SIGKILL');
  removeTempSpoolDirs();
});

type Message = Record<string, unknown>;

/** A forked worker and a way to wait for its next message that matches. */
function start(...args: string[]): { child: ChildProcess; next: (match: (m: Message) => boolean) => Promise<Message> } {
  // More libuv threads than the default 4, so concurrent fsyncs can share the disk's flushes.
  const child = fork(worker, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const inbox: Message[] = [];
  const waiting: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  child.on('message', (m: Message) => {
    const i = waiting.findIndex((w) => w.match(m));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(m);
    else inbox.push(m);
  });
  const next = (match: (m: Message) => boolean) =>
    new Promise<Message>((resolve, reject) => {
      const i = inbox.findIndex(match);
      if (i >= 0) return resolve(inbox.splice(i, 1)[0] as Message);
      waiting.push({ match, resolve });
      child.once('exit', (code, signal) => reject(new Error(`worker ${args[0]} exited (${code ?? signal})`)));
    });
  return { child, next };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** How long the processes may take to do what the test waits for, on a busy machine. */
const DEADLINE_MS = 120_000;

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const files = (dir: string, sub: string) =>
  readdirSync(join(dir, sub))
    .filter((n) => !n.startsWith('.'))
    .sort();

describe('multispool: several processes', () => {
  it('4 processes racing withEntryOrNotFound over the same entries handle each exactly once', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const names: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < 400; i += 8)
          names.push((await spool.enqueue('todo', { kind: 'race', tries: i }, `p${i}`)).name);
      }),
    );
    const racers = Array.from({ length: 4 }, () => start('race', dir));
    await Promise.all(racers.map((r) => r.next((m) => m.ready === true)));
    const results = racers.map((r) => r.next((m) => Array.isArray(m.won)));
    for (const r of racers) r.child.send('go');
    const reports = (await Promise.all(results)) as unknown as { won: string[]; lost: number }[];
    const won = reports.flatMap((r) => r.won);
    assert.equal(won.length, 400, `handled ${won.length} times for 400 entries`);
    assert.deepEqual([...new Set(won)].sort(), names.sort(), 'every entry handled, none twice');
    for (const r of reports) assert.equal(r.won.length + r.lost, 400, 'each racer saw every entry once');
    for (const sub of ['todo', '.data', '.registry', 'todo/.checkout']) assert.deepEqual(files(dir, sub), [], sub);
    const contended = reports.reduce((n, r) => n + r.lost, 0);
    assert.equal(contended, 1200, 'what one racer won, the three others lost');
  });

  it('entries held by a process killed with SIGKILL come back on the next load; a live holder keeps its own', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const names: string[] = [];
    for (let i = 0; i < 10; i++) names.push((await spool.enqueue('todo', { kind: 'hold', tries: i }, `p${i}`)).name);
    const doomed = start('hold', dir, '4');
    const doomedHeld = (await doomed.next((m) => Array.isArray(m.held))).held as string[];
    const survivor = start('hold', dir, '3');
    const survivorHeld = (await survivor.next((m) => Array.isArray(m.held))).held as string[];
    assert.equal(doomedHeld.length, 4);
    assert.equal(survivorHeld.length, 3);
    assert.equal(files(dir, 'todo').length, 3);

    await killed(doomed.child);
    const reloaded = await Multispool.load(dir, jobs, { log: silentLog });
    assert.deepEqual(
      (await reloaded.list('todo')).map((e) => e.name),
      names.filter((n) => !survivorHeld.includes(n)),
    );
    assert.deepEqual(
      (await reloaded.listCheckouts('todo')).map((c) => c.name),
      [...survivorHeld].sort(),
    );
    for (const name of doomedHeld) {
      assert.equal((await reloaded.entry('todo', name).metadata()).kind, 'hold');
    }

    await killed(survivor.child);
    const again = await Multispool.load(dir, jobs, { log: silentLog });
    assert.deepEqual(
      (await again.list('todo')).map((e) => e.name),
      names,
    );
    assert.deepEqual(await again.listCheckouts('todo'), []);
  });

  it('a process killed in the middle of enqueueing leaves only whole entries, every acknowledged one among them', async () => {
    const dir = tempSpoolDir();
    await Multispool.create(dir, jobs, { log: silentLog });
    const producer = start('enqueue', dir);
    const acked = new Set<string>();
    producer.child.on('message', (m: Message) => {
      if (typeof m.acked === 'string') acked.add(m.acked);
    });
    // Killed while stopped (SIGSTOP, every thread), at a moment its enqueues in progress left work
    // behind: the state on disk is the state at the kill. With 32 enqueues at a time that is
    // almost always the first look; if not, it runs on a little and is looked at again.
    const unfinishedWork = () =>
      files(dir, '.tmp').filter((n) => n.endsWith('.enq')).length > 0 ||
      files(dir, '.registry').length > files(dir, 'todo').length;
    for (let target = 150; ; target += 20) {
      await until(() => acked.size >= target, `${target} acknowledged enqueues`);
      await freeze(producer.child);
      if (unfinishedWork()) break;
      thaw(producer.child);
    }
    assert.ok(unfinishedWork(), 'the kill leaves work behind');
    await killed(producer.child);
    const spool = await Multispool.load(dir, jobs, { log: silentLog });
    const present = (await spool.list('todo')).map((e) => e.name);
    for (const name of acked) assert.ok(present.includes(name), `acknowledged ${name} survived`);
    assert.deepEqual(files(dir, '.data'), present, 'data exists for exactly the entries present');
    assert.deepEqual(files(dir, '.registry'), present, 'names are held for exactly the entries present');
    assert.deepEqual(readdirSync(join(dir, '.tmp')), []);
    for (const name of present) {
      const meta = await spool.entry('todo', name).metadata();
      assert.equal(await spool.entry('todo', name).dataFile.read(), `payload ${meta.tries}`);
    }
  });

  it('readers in two other processes wake on change notices and share 10,000 enqueues, each taken exactly once', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const total = 10_001;
    // A 30 s re-list timer: an entry taken before it could fire was found by the change notice.
    // Each reader has 8 takers removing entries while the producer's 32 writers add them.
    const POLL_MS = 30_000;
    const readers = [start('read', dir, String(POLL_MS)), start('read', dir, String(POLL_MS))];
    const got = new Map<string, number>();
    const takenBy = new Map<string, number>();
    let duplicates = 0;
    for (const [r, reader] of readers.entries()) {
      reader.child.on('message', (m: Message) => {
        if (typeof m.got !== 'string') return;
        if (got.has(m.got)) duplicates++;
        got.set(m.got, m.at as number);
        takenBy.set(m.got, r);
      });
    }
    // Ready: all of a reader's takers wait for a change; `at` is before they started.
    const startedAt = (await Promise.all(readers.map((reader) => reader.next((m) => m.ready === true)))).map(
      (m) => m.at as number,
    );
    // One entry for each reader while the other is stopped: each takes one, woken by the notice.
    const firsts: string[] = [];
    for (const r of [0, 1]) {
      const other = readers[1 - r] as (typeof readers)[number];
      await freeze(other.child);
      const entry = await spool.enqueue('todo', { kind: 'first', tries: r }, `x${r}`);
      firsts.push(entry.name);
      await until(() => got.has(entry.name), `reader ${r} to take its entry`);
      thaw(other.child);
      assert.equal(takenBy.get(entry.name), r, 'the running reader took it');
      const woke = (got.get(entry.name) as number) - (startedAt[r] as number);
      assert.ok(woke < POLL_MS, `taken ${woke} ms after the reader started, as late as its re-list timer`);
    }

    const names = [...firsts];
    const producer = start('produce', dir, String(total - 2));
    producer.child.on('message', (m: Message) => {
      if (typeof m.acked === 'string') names.push(m.acked);
    });
    await producer.next((m) => m.produced === true);
    await until(() => got.size + duplicates >= total, 'every entry to be taken');
    for (const reader of readers) reader.child.send('stop');
    await Promise.all(readers.map((reader) => reader.next((m) => m.done === true)));
    assert.equal(duplicates, 0, 'no entry was taken twice');
    assert.equal(got.size, total);
    assert.deepEqual([...got.keys()].sort(), names.sort());
    assert.deepEqual(files(dir, 'todo'), []);
  });
});
