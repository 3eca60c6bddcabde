import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ClosedError,
  CorruptDataError,
  InvalidArgumentError,
  NotASpoolError,
  ResourceConflictError,
  ResourceNotFoundError,
} from '../../src/core/index.js';
import { Multispool, type SpoolLog, silentLog } from '../../src/multispool/index.js';
import { ownerToken } from '../../src/multispool/process-owner.js';
import { type JobMeta, jobs, jobsV1, removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

after(removeTempSpoolDirs);

/** Every file under a folder, as sorted relative paths, to prove that a refused call changed nothing. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      out.push(rel);
      if (e.isDirectory()) walk(join(d, e.name), rel);
    }
  };
  walk(dir, '');
  return out.sort();
}

function recordingLog(): {
  log: SpoolLog;
  lines: { level: string; message: string; fields: Record<string, unknown> }[];
} {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  return { lines, log: (level, message, fields = {}) => lines.push({ level, message, fields }) };
}

const DEAD = '999999999-1'; // a token no live process has (pids stop far below this)

/** Scratch files other than this process's own token file (`reserve-<n>@<token>.tok`). */
function scratch(dir: string): string[] {
  return readdirSync(join(dir, '.tmp')).filter((n) => !n.endsWith(`@${ownerToken()}.tok`));
}

describe('multispool: opening a folder', () => {
  it('refuses a missing folder, an empty one, a non-spool, other queues, and a missing queue; changes nothing', async () => {
    const base = tempSpoolDir();
    const missing = join(base, 'nope');
    await assert.rejects(Multispool.load(missing, jobs), NotASpoolError);
    assert.equal(existsSync(missing), false);

    const empty = join(base, 'empty');
    mkdirSync(empty);
    await assert.rejects(Multispool.load(empty, jobs), (e) => e instanceof NotASpoolError && /empty/.test(e.message));
    assert.deepEqual(tree(empty), []);

    const stranger = join(base, 'stranger');
    mkdirSync(stranger);
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    for (const createIfMissing of [false, true]) {
      await assert.rejects(
        Multispool.load(stranger, jobs, { createIfMissing }),
        (e) => e instanceof NotASpoolError && e.code === 'PH_NOT_A_SPOOL' && /not a spool/.test(e.message),
      );
    }
    assert.deepEqual(tree(stranger), ['notes.txt']);

    const spoolDir = join(base, 'spool');
    await Multispool.create(spoolDir, jobs, { log: silentLog });
    const made = tree(spoolDir);
    assert.ok(made.includes('.registry') && made.includes('.tmp') && made.includes('.data'));
    for (const q of jobs.queues) assert.ok(made.includes(q) && made.includes(`${q}/.checkout`), q);

    mkdirSync(join(spoolDir, 'extra'));
    for (const createIfMissing of [false, true]) {
      await assert.rejects(
        Multispool.load(spoolDir, jobs, { createIfMissing }),
        (e) => e instanceof NotASpoolError && /"extra"/.test(e.message),
      );
    }
    assert.deepEqual(tree(spoolDir), [...made, 'extra'].sort());
  });

  it('a spool missing a declared queue opens only with createIfMissing, which adds it', async () => {
    const dir = tempSpoolDir();
    await Multispool.create(dir, { ...jobs, queues: ['todo', 'done'] }, { log: silentLog });
    await assert.rejects(Multispool.load(dir, jobs), (e) => e instanceof NotASpoolError && /"failed"/.test(e.message));
    assert.equal(existsSync(join(dir, 'failed')), false);
    const spool = await Multispool.load(dir, jobs, { createIfMissing: true, log: silentLog });
    assert.deepEqual(await spool.list('failed'), []);
  });

  it('refuses a spoolable with no queues, a bad queue name or a queue twice', async () => {
    const dir = tempSpoolDir();
    for (const queues of [[], ['a/b'], ['.hidden'], ['x', 'x']]) {
      await assert.rejects(
        Multispool.create(dir, { ...jobs, queues } as never),
        (e) => e instanceof InvalidArgumentError && e.field === 'spoolable.queues',
      );
    }
    assert.deepEqual(tree(dir), []);
  });
});

describe('multispool: entries', () => {
  it('enqueue writes metadata in the queue and data apart; withEntry saves to another queue, then removes', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const entry = await spool.enqueue('todo', { kind: 'mail', tries: 0 }, 'hello');
    assert.match(entry.name, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      readdirSync(join(dir, 'todo')).filter((n) => !n.startsWith('.')),
      [entry.name],
    );
    assert.equal(readFileSync(join(dir, '.data', entry.name), 'utf8'), 'hello');
    assert.ok(existsSync(join(dir, '.registry', entry.name)));
    assert.match(readFileSync(join(dir, 'todo', entry.name), 'utf8'), /^PHMS 2 \d+\n\{"kind":"mail","tries":0\}$/);
    assert.deepEqual(scratch(dir), [], 'no scratch left behind');

    const seen = await spool.withEntry(entry, async (meta, data) => {
      assert.deepEqual(meta, { kind: 'mail', tries: 0 });
      assert.equal(await data.read(), 'hello');
      assert.equal(await data.size(), 5);
      return [{ save: [{ ...meta, tries: 1 }, 'done'] }, 'ok'] as const;
    });
    assert.equal(seen, 'ok');
    assert.deepEqual(await spool.list('todo'), []);
    const [moved] = await spool.list('done');
    assert.equal(moved?.name, entry.name);
    assert.deepEqual(await moved?.metadata(), { kind: 'mail', tries: 1 });

    const removed = await spool.withEntry(spool.entry('done', entry.name), () => ['remove', 42] as const);
    assert.equal(removed, 42);
    assert.deepEqual(await spool.list('done'), []);
    for (const sub of ['.data', '.registry', 'done/.checkout']) assert.deepEqual(readdirSync(join(dir, sub)), [], sub);
    assert.deepEqual(scratch(dir), []);
  });

  it('an entry taken by someone else: withEntry throws ResourceNotFoundError, withEntryOrNotFound says not-found', async () => {
    const spool = await Multispool.create(tempSpoolDir(), jobs, { log: silentLog });
    const entry = await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x');
    const held = await spool.checkout(entry);
    let ran = false;
    const f = () => {
      ran = true;
      return ['remove', null] as const;
    };
    await assert.rejects(spool.withEntry(entry, f), ResourceNotFoundError);
    assert.equal(await spool.withEntryOrNotFound(entry, f), 'not-found');
    assert.equal(ran, false);
    const checkouts = await spool.listCheckouts('todo');
    assert.deepEqual(
      checkouts.map((c) => c.name),
      [held.name],
    );
    assert.match(checkouts[0]?.owner ?? '', new RegExp(`^${process.pid}-\\d+$`));
    await held.release();
    assert.deepEqual(await spool.withEntryOrNotFound(entry, f), { ok: null });
    await assert.rejects(
      held.save({ kind: 'b', tries: 1 }, 'done'),
      ClosedError,
      'a settled checkout cannot act again',
    );
  });

  it('when f throws or decides nonsense, the entry goes back unchanged', async () => {
    const spool = await Multispool.create(tempSpoolDir(), jobs, { log: silentLog });
    const entry = await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x');
    await assert.rejects(
      spool.withEntry(entry, () => {
        throw new Error('worker bug');
      }),
      /worker bug/,
    );
    await assert.rejects(
      spool.withEntry(entry, () => [{ save: [{ kind: 'a', tries: 1 }, 'nowhere' as 'done'] }, 1] as const),
      (e) => e instanceof InvalidArgumentError && e.field === 'queue',
    );
    await assert.rejects(
      spool.withEntry(entry, () => ['explode' as 'remove', 1] as const),
      (e) => e instanceof InvalidArgumentError && e.field === 'f',
    );
    assert.deepEqual(
      (await spool.list('todo')).map((e) => e.name),
      [entry.name],
    );
    assert.deepEqual(await entry.metadata(), { kind: 'a', tries: 0 });
    assert.deepEqual(await spool.listCheckouts('todo'), []);
  });

  it('bad input to enqueue — an undeclared queue, a taken name, a bad name, metadata that does not encode — changes nothing', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x', { use: 'fixed-name' });
    const before = tree(dir);
    await assert.rejects(
      spool.enqueue('later' as 'todo', { kind: 'a', tries: 0 }, 'x'),
      (e) => e instanceof InvalidArgumentError && e.field === 'queue',
    );
    await assert.rejects(
      spool.enqueue('todo', { kind: 'a', tries: 0 }, 'y', { use: 'fixed-name' }),
      (e) => e instanceof ResourceConflictError && /fixed-name/.test(e.message),
    );
    for (const name of ['../escape', '.hidden', 'a@b', '', 'x'.repeat(201)]) {
      await assert.rejects(
        spool.enqueue('todo', { kind: 'a', tries: 0 }, 'y', { use: name }),
        (e) => e instanceof InvalidArgumentError && e.field === 'name.use',
        name,
      );
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(
      spool.enqueue('todo', circular as unknown as JobMeta, 'y'),
      (e) => e instanceof InvalidArgumentError && e.field === 'metadata',
    );
    await assert.rejects(
      spool.enqueue('todo', { kind: 'a', tries: 0 }, 'y', { reserve: { next: () => 'fixed-name' } }),
      (e) => e instanceof ResourceConflictError,
    );
    assert.deepEqual(tree(dir), before);
    assert.equal(await spool.entry('todo', 'fixed-name').dataFile.read(), 'x');
  });

  it('a reserved name is used once by enqueue, and can be given back', async () => {
    const dir = tempSpoolDir();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const name = await spool.reserveName({ next: (attempt) => `n-${attempt}` });
    assert.equal(name.name, 'n-0');
    const taken = await spool.reserveName({ next: (attempt) => `n-${attempt}` });
    assert.equal(taken.name, 'n-1', 'the generator is asked again while names are taken');
    await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x', { use: name });
    await assert.rejects(spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x', { use: name }), ResourceConflictError);
    await taken.release();
    assert.equal(existsSync(join(dir, '.registry', 'n-1')), false);
    assert.equal((await spool.reserveName({ next: (a) => `n-${a}` })).name, 'n-1');
  });

  it('metadata written by the previous release (version 1) still reads, upgraded', async () => {
    const dir = tempSpoolDir();
    const old = await Multispool.create(dir, jobsV1, { log: silentLog });
    const entry = await old.enqueue('todo', { type: 'legacy' }, 'body');
    const spool = await Multispool.load(dir, jobs, { log: silentLog });
    assert.deepEqual(await spool.entry('todo', entry.name).metadata(), { kind: 'legacy', tries: 0 });
    await spool.withEntry(
      spool.entry('todo', entry.name),
      (meta) => [{ save: [{ ...meta, tries: 1 }, 'todo'] }, null] as const,
    );
    assert.match(readFileSync(join(dir, 'todo', entry.name), 'utf8'), /^PHMS 2 /, 'saved again in the current version');
    // A release that only knows version 1 leaves version 2 files in place rather than calling them corrupt.
    const older = await Multispool.load(dir, jobsV1, { log: silentLog });
    await assert.rejects(
      older.withEntry(older.entry('todo', entry.name), () => ['remove', 0] as const),
      /newer/,
    );
    assert.deepEqual(
      (await older.list('todo')).map((e) => e.name),
      [entry.name],
    );
  });

  it('metadata that cannot be read moves to .corrupt with a log line, and does not block the queue', async () => {
    const dir = tempSpoolDir();
    const { log, lines } = recordingLog();
    const spool = await Multispool.create(dir, jobs, { log });
    const bad = await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'bad');
    const good = await spool.enqueue('todo', { kind: 'b', tries: 0 }, 'good');
    writeFileSync(join(dir, 'todo', bad.name), 'PHMS 2 5\n{"ki'); // cut short
    await assert.rejects(
      spool.withEntry(bad, () => ['remove', 0] as const),
      (e) => e instanceof CorruptDataError && e.code === 'PH_CORRUPT_DATA',
    );
    assert.ok(existsSync(join(dir, '.corrupt', 'todo', bad.name)));
    assert.equal(readFileSync(join(dir, '.data', bad.name), 'utf8'), 'bad', 'the data stays for an operator');
    const line = lines.find((l) => l.message.includes('moved aside'));
    assert.equal(line?.level, 'warn');
    assert.equal(line?.fields.name, bad.name);

    writeFileSync(join(dir, 'todo', good.name.replace(/.$/, 'z')), 'not a metadata file at all');
    const reader = spool.reader('todo');
    const names: string[] = [];
    assert.equal(
      await reader.iterAvailable(async (meta, data) => {
        names.push(`${meta.kind}:${await data.read()}`);
        return ['remove', null] as const;
      }),
      1,
    );
    reader.close();
    assert.deepEqual(names, ['b:good']);
    assert.equal(lines.filter((l) => l.message.includes('moved aside')).length, 2);
  });
});

describe('multispool: recovery on load', () => {
  it('returns entries of dead holders, finishes or undoes their half-done work, and leaves live holders alone', async () => {
    const dir = tempSpoolDir();
    const { log, lines } = recordingLog();
    const spool = await Multispool.create(dir, jobs, { log: silentLog });
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await spool.enqueue('todo', { kind: `k${i}`, tries: 0 }, `d${i}`)).name);
    const [n0, n1, n2, n3, n4, n5] = names as [string, string, string, string, string, string];
    const mv = (from: string, to: string) => {
      writeFileSync(join(dir, to), readFileSync(join(dir, from)));
      unlinkSync(join(dir, from));
    };
    // n0: checked out by a dead process.
    mv(`todo/${n0}`, `todo/.checkout/${n0}@${DEAD}`);
    // n1: checked out by this (live) process.
    const live = await spool.checkout(spool.entry('todo', n1));
    // n2: a dead process was removing it (metadata already in scratch).
    mv(`todo/${n2}`, `.tmp/${n2}@${DEAD}.rm`);
    // n3: a dead process was saving it: its new metadata never replaced the checked-out file.
    mv(`todo/${n3}`, `done/.checkout/${n3}@${DEAD}`);
    writeFileSync(join(dir, '.tmp', `${n3}@${DEAD}.save`), 'PHMS 2 2\n{}');
    // n4 stays put. A dead process's enqueue that never reached its queue:
    writeFileSync(join(dir, '.registry', 'half'), DEAD);
    writeFileSync(join(dir, '.data', 'half'), 'partial');
    writeFileSync(join(dir, '.tmp', `half@${DEAD}.enq`), 'PHMS 2');
    // A name reserved by a dead process that never wrote anything, and one reserved by us.
    writeFileSync(join(dir, '.registry', 'unused'), DEAD);
    const ours = await spool.reserveName({ next: () => 'ours' });

    const reopened = await Multispool.load(dir, jobs, { log });
    const report = await reopened.recover(); // a second pass finds nothing more to do
    assert.deepEqual(report, { returned: [], scratchRemoved: [], namesFreed: [] });

    assert.deepEqual((await reopened.list('todo')).map((e) => e.name).sort(), [n0, n4, n5].sort());
    assert.deepEqual(
      (await reopened.list('done')).map((e) => e.name),
      [n3],
    );
    assert.deepEqual(await reopened.entry('done', n3).metadata(), { kind: 'k3', tries: 0 });
    assert.deepEqual(
      (await reopened.listCheckouts('todo')).map((c) => c.name),
      [n1],
      'the live checkout is untouched',
    );
    for (const gone of [n2, 'half', 'unused']) {
      assert.equal(existsSync(join(dir, '.registry', gone)), false, gone);
      assert.equal(existsSync(join(dir, '.data', gone)), false, gone);
    }
    assert.ok(existsSync(join(dir, '.registry', 'ours')));
    assert.deepEqual(scratch(dir), []);
    assert.ok(lines.some((l) => l.message.includes('returned to their queues') && l.fields.count === 2));
    await live.remove();
    await ours.release();
  });
});

/**
 * Resolves once `count` dequeues of the reader wait for a change (each has its waker registered).
 * The reader does not say so itself, so this looks at its waiting set.
 */
async function untilWaiting(reader: object, count: number): Promise<void> {
  const wakers = (reader as { wakers: Set<unknown> }).wakers;
  const deadline = Date.now() + 30_000; // a deadline for a busy machine
  while (wakers.size < count) {
    if (Date.now() > deadline) throw new Error(`no ${count} dequeue(s) waiting after 30 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('multispool: queue reader', () => {
  it('wakes for a new entry on its change notice, without waiting for its re-list timer', async () => {
    const spool = await Multispool.create(tempSpoolDir(), jobs, { log: silentLog });
    const POLL_MS = 60_000;
    const reader = spool.reader('todo', { pollIntervalMs: POLL_MS });
    const t0 = performance.now();
    const waiting = reader.dequeue();
    await untilWaiting(reader, 1);
    const entry = await spool.enqueue('todo', { kind: 'a', tries: 0 }, 'x');
    const taken = await waiting;
    const waited = performance.now() - t0;
    assert.equal(taken.name, entry.name);
    // Its re-list timer was set after t0 and cannot have fired yet: the change notice woke it.
    assert.ok(waited < POLL_MS, `woke after ${waited} ms, as late as the re-list timer`);
    await taken.remove();
    reader.close();
  });

  it('without change notices it still finds every entry by re-listing', async () => {
    const spool = await Multispool.create(tempSpoolDir(), jobs, { log: silentLog });
    const reader = spool.reader('todo', { watch: false, pollIntervalMs: 50 });
    const got: string[] = [];
    const consumer = (async () => {
      while (got.length < 20) {
        const t = await reader.dequeue();
        got.push(t.name);
        await t.remove();
      }
    })();
    const put: string[] = [];
    for (let i = 0; i < 20; i++) {
      // Every fifth entry is put while the reader waits, with no notice to wake it: only its
      // re-listing can find it.
      if (i % 5 === 0) await untilWaiting(reader, 1);
      put.push((await spool.enqueue('todo', { kind: 'a', tries: i }, 'x')).name);
    }
    await consumer;
    reader.close();
    assert.deepEqual(got.sort(), put.sort());
  });

  it('a waiting dequeue rejects when its signal aborts or the reader closes', async () => {
    const spool = await Multispool.create(tempSpoolDir(), jobs, { log: silentLog });
    const reader = spool.reader('todo');
    const controller = new AbortController();
    const aborted = reader.dequeue({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    const closing = reader.dequeue();
    await untilWaiting(reader, 1);
    reader.close();
    await assert.rejects(closing, ClosedError);
  });
});
