/**
 * Fault injection at every write of the disk store (issue 12), SQLite-style: every file
 * operation of the store goes through one FileIo, and a run of a workload (open, create queues,
 * post batches, claim, delete with and without the claim, release, gc with its compaction and
 * snapshot, more posts, a second snapshot that lets dead segments go, close) has its Nth
 * operation fail — ENOSPC, EIO, or a short write — for every N the workload makes.
 *
 * Each time: the step that needed the faulted operation fails with a typed storage error (or the
 * fault is absorbed where the design absorbs it: a snapshot that cannot be written is only
 * logged), and the step is then retried on the same instance and succeeds — the engine's design
 * is that the instance reloads itself from disk on the next call, not that it must be reopened.
 * At the end the folder is opened with Node's own FileIo and must hold exactly what was
 * acknowledged: every acknowledged message with its exact body, in order, every acknowledged
 * delete gone, and nothing a refused step tried to do.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FakeClock,
  type FaultKind,
  FaultyFileIo,
  type FileIo,
  type FileOp,
  isPosthornError,
  nodeFileIo,
  StorageFullError,
  StorageUnavailableError,
  silentLogger,
} from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';

// tmpfs where there is one: the faults are injected, so real fsyncs would only cost time.
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const root = mkdtempSync(join(base, 'posthorn-disk-faults-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `store-${dirs++}`);

/** Every operation that changes a file or its folder, or makes it durable. */
const WRITES: readonly FileOp[] = [
  'open',
  'close',
  'write',
  'fsync',
  'fdatasync',
  'rename',
  'link',
  'unlink',
  'mkdir',
  'ftruncate',
  'openSync',
  'closeSync',
  'writevSync',
  'fsyncSync',
  // The folder lock's.
  'unlinkSync',
  'renameSync',
  'symlinkSync',
];
const QUEUES = ['alpha', 'beta'] as const;
const PROJECT = 'p';
// Small segments, so that the workload rotates, seals, compacts and drops segments.
const SEGMENT_SIZE = 4096;

const open = (dir: string, io: FileIo, clock: FakeClock) =>
  createDiskDriver({ dir, io, clock, logger: silentLogger, gcIntervalMs: 0, segmentSize: SEGMENT_SIZE });

/** What the store acknowledged, in order: the state a reopened store must hold exactly. */
class Model {
  readonly queues = new Set<string>();
  /** Per queue, acknowledged posts in order: id and body. */
  readonly messages = new Map<string, { id: string; body: unknown }[]>();
  readonly deleted = new Set<string>();
  expected(queue: string) {
    return (this.messages.get(queue) ?? []).filter((m) => !this.deleted.has(m.id));
  }
}

interface Run {
  /** Steps that failed, with the error they failed with. */
  failures: { step: string; error: unknown }[];
  /** How many times a failed step is tried again (one per fault planned). */
  retries: number;
  model: Model;
  store: DiskDriver | null;
}

/**
 * Runs `step`; when it fails, records the failure and runs it again (once per planned fault),
 * which must succeed: the faults are spent and the same instance works again.
 */
async function attempt<T>(run: Run, name: string, step: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await step();
    } catch (error) {
      run.failures.push({ step: name, error });
      if (tries >= run.retries) throw error;
    }
  }
}

async function workload(dir: string, io: FileIo, clock: FakeClock, faults = 1): Promise<Run> {
  const run: Run = { failures: [], retries: faults, model: new Model(), store: null };
  const { model } = run;
  const store = await attempt(run, 'open', () => open(dir, io, clock));
  run.store = store;
  for (const q of QUEUES) {
    await attempt(run, `create ${q}`, () => store.queues.create(PROJECT, q, { kind: q }));
    model.queues.add(q);
  }
  let k = 0;
  const post = async (q: string, count: number) => {
    const bodies = Array.from({ length: count }, () => ({ n: k++, pad: 'x'.repeat(180) }));
    const ids = await attempt(run, `post ${q}`, () =>
      store.messages.post(
        PROJECT,
        q,
        bodies.map((body) => ({ body, ttl: 3600 })),
        'client-1',
      ),
    );
    const list = model.messages.get(q) ?? [];
    ids.forEach((id, i) => {
      list.push({ id, body: bodies[i] });
    });
    model.messages.set(q, list);
  };
  for (let i = 0; i < 6; i++) await post(QUEUES[i % 2] as string, 3);
  // Deletes of most early messages make their segments sparse: gc compacts them.
  const early = (model.messages.get('alpha') ?? []).slice(0, 7);
  for (const m of early.slice(0, 6)) {
    await attempt(run, 'delete', () => store.messages.delete(PROJECT, 'alpha', m.id));
    model.deleted.add(m.id);
  }
  const claim = await attempt(run, 'claim', () => store.claims.create(PROJECT, 'beta', { limit: 2, ttl: 60 }));
  assert.ok(claim && claim.messages.length === 2, 'the claim takes two messages');
  const [claimedDone] = claim.messages;
  await attempt(run, 'delete claimed', () =>
    store.messages.delete(PROJECT, 'beta', claimedDone?.id as string, { claimId: claim.id }),
  );
  model.deleted.add(claimedDone?.id as string);
  await attempt(run, 'release', () => store.claims.delete(PROJECT, 'beta', claim.id));
  await attempt(run, 'bulk delete', () =>
    store.messages.bulkDelete(
      PROJECT,
      'beta',
      (model.messages.get('beta') ?? []).slice(3, 5).map((m) => m.id),
    ),
  );
  for (const m of (model.messages.get('beta') ?? []).slice(3, 5)) model.deleted.add(m.id);
  await attempt(run, 'gc', () => store.gc());
  for (let i = 0; i < 6; i++) await post(QUEUES[i % 2] as string, 3);
  await attempt(run, 'gc again', () => store.gc());
  await post('alpha', 2);
  try {
    await store.close();
  } catch (error) {
    // A close is not retried (the instance is closed either way); what it acknowledged stays.
    run.failures.push({ step: 'close', error });
  }
  return run;
}

/** The folder, opened with Node's FileIo, holds exactly what was acknowledged; and it works. */
async function verify(dir: string, model: Model, clock: FakeClock, label: string): Promise<void> {
  const store = await open(dir, nodeFileIo, clock);
  try {
    const queues = (await store.queues.list(PROJECT)).queues.map((q) => q.name).sort();
    assert.deepEqual(queues, [...model.queues].sort(), `${label}: the acknowledged queues`);
    for (const q of model.queues) {
      const got: { id: string; body: unknown }[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await store.messages.list(PROJECT, q, {
          echo: true,
          includeClaimed: true,
          limit: 20,
          ...(marker ? { marker } : {}),
        });
        if (page.messages.length === 0) break;
        got.push(...page.messages.map((m) => ({ id: m.id, body: m.body })));
        marker = page.marker ?? undefined;
      }
      assert.deepEqual(got, model.expected(q), `${label}: queue ${q} holds exactly the acknowledged messages`);
    }
    assert.deepEqual(store.damageReports(), [], `${label}: no damage`);
    assert.deepEqual(store.setAside(), [], `${label}: nothing set aside`);
    const [id] = await store.messages.post(PROJECT, 'alpha', [{ body: 'after', ttl: 60 }], 'client-2');
    assert.equal((await store.messages.get(PROJECT, 'alpha', id as string)).body, 'after');
  } finally {
    await store.close();
  }
}

/** Node's FileIo, noting each call's name and path (what the workload covers). */
function recording(inner: FileIo, seen: string[]): FileIo {
  return new Proxy(inner, {
    get(target, name: keyof FileIo) {
      const fn = target[name] as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        seen.push([String(name), ...args.filter((a) => typeof a === 'string')].join(' '));
        return fn.apply(target, args);
      };
    },
  });
}

function assertTyped(run: Run, label: string): void {
  for (const { step, error } of run.failures) {
    assert.ok(
      error instanceof StorageFullError || error instanceof StorageUnavailableError,
      `${label}: step ${step} failed with a typed storage error, not ${String(error)}`,
    );
    assert.ok(isPosthornError(error));
  }
}

describe('disk store: a fault at every file operation', { timeout: 600_000 }, () => {
  let count = 0;
  /** Which of the counted operations (1-based) are fsyncs of a file. */
  const fileSyncs: number[] = [];

  it('counts the operations of the workload (and runs it without faults)', async () => {
    const seen: string[] = [];
    const io = new FaultyFileIo(recording(nodeFileIo, seen), {
      failAt: Number.POSITIVE_INFINITY,
      kind: 'EIO',
      ops: WRITES,
    });
    const dir = freshDir();
    const clock = new FakeClock();
    const run = await workload(dir, io, clock);
    assert.deepEqual(run.failures, []);
    count = io.count;
    // The walk covers what it claims to: rotations, snapshots, old snapshots and dead segments going.
    const has = (re: RegExp) => seen.some((s) => re.test(s));
    assert.ok(has(/^openSync .*\.seg$/), 'the log rotates');
    assert.ok(has(/^rename .*\.snap$/), 'snapshots are written');
    assert.ok(has(/^unlink .*\.snap$/), 'old snapshots go');
    assert.ok(has(/^unlink .*\.seg$/), 'dead segments go');
    const counted = seen.filter((s) => WRITES.includes(s.split(' ')[0] as FileOp));
    counted.forEach((s, i) => {
      if (s === 'fdatasync') fileSyncs.push(i + 1);
    });
    assert.equal(counted.length, io.count, 'the recording sees what the fault plan counts');
    assert.ok(count > 50, `the workload made ${count} file operations`);
    console.log(`# the workload makes ${count} file operations that write; each is faulted in turn`);
    const sizes = QUEUES.map((q) => run.model.expected(q).length);
    assert.ok(
      sizes.every((n) => n > 0),
      'both queues keep messages',
    );
    await verify(dir, run.model, clock, 'no fault');
  });

  for (const kind of ['ENOSPC', 'EIO', 'short-write'] as const satisfies readonly FaultKind[]) {
    it(`${kind} at every operation: a typed error, nothing acknowledged lost or refused kept, and the store works`, async () => {
      assert.ok(count > 0, 'the counting run ran first');
      const started = Date.now();
      let failedSteps = 0;
      for (let n = 1; n <= count; n++) {
        const label = `${kind} at operation ${n} of ${count}`;
        // EIO also takes what the failed fsync should have written (the worst case, which catches
        // a store that retries the fsync and acknowledges); ENOSPC and short writes leave it in
        // the file (which catches a store that reloads without cutting the unacknowledged off).
        const io = new FaultyFileIo(nodeFileIo, { failAt: n, kind, ops: WRITES, loseUnsynced: kind === 'EIO' });
        const dir = freshDir();
        const clock = new FakeClock();
        const run = await workload(dir, io, clock);
        assert.ok(io.fired, `${label}: the fault fired`);
        assertTyped(run, label);
        assert.ok(run.failures.length <= 1, `${label}: one fault fails at most one step (${run.failures.length})`);
        failedSteps += run.failures.length;
        await verify(dir, run.model, clock, label);
        rmSync(dir, { recursive: true, force: true });
      }
      console.log(
        `# ${kind}: walked ${count} operations in ${Date.now() - started} ms; ${failedSteps} steps were refused (the rest absorbed)`,
      );
      assert.ok(failedSteps > 0, 'some faults reach a caller');
    });
  }

  // A second fault while the store reloads after the first (a failed fsync of the log): the
  // reload fails with a typed error, is tried again by the next call, and in the end the store
  // holds exactly what was acknowledged — never the half-built state of a reload cut short.
  it('EIO again while reloading after a failed fsync: the reload is retried, nothing is lost or half-built', async () => {
    assert.ok(fileSyncs.length > 5, `the workload fsyncs files (${fileSyncs.length})`);
    const AFTER = 10;
    const started = Date.now();
    let runs = 0;
    let doubly = 0;
    for (const first of fileSyncs) {
      for (let d = 1; d <= AFTER; d++) {
        const label = `EIO at operations ${first} and ${first + d} of ${count}`;
        const io = new FaultyFileIo(nodeFileIo, {
          failAt: [first, first + d],
          kind: 'EIO',
          ops: WRITES,
          loseUnsynced: true,
        });
        const dir = freshDir();
        const clock = new FakeClock();
        const run = await workload(dir, io, clock, 2);
        assertTyped(run, label);
        assert.ok(run.failures.length <= 2, `${label}: two faults fail at most two tries (${run.failures.length})`);
        if (run.failures.length === 2) doubly++;
        await verify(dir, run.model, clock, label);
        rmSync(dir, { recursive: true, force: true });
        runs++;
      }
    }
    console.log(
      `# a fault while reloading: ${runs} runs in ${Date.now() - started} ms; in ${doubly} the reload itself failed`,
    );
    assert.ok(doubly > 0, 'some second faults hit the reload');
  });

  // A read the disk fails (EIO) proves nothing about the bytes: the call is refused, and the
  // message is not set aside as damaged (which would take it out of its queue for good).
  it('EIO at every read of a body: the read is refused, nothing is set aside, and it is served once the disk reads', async () => {
    const dir = freshDir();
    const clock = new FakeClock();
    const setup = await open(dir, nodeFileIo, clock);
    const model = new Model();
    model.queues.add('alpha');
    for (let i = 0; i < 3; i++) {
      const bodies = [0, 1, 2].map((j) => ({ n: i * 3 + j, pad: 'y'.repeat(100) }));
      const ids = await setup.messages.post(
        PROJECT,
        'alpha',
        bodies.map((body) => ({ body, ttl: 3600 })),
        'c',
      );
      const list = model.messages.get('alpha') ?? [];
      ids.forEach((id, k) => {
        list.push({ id, body: bodies[k] });
      });
      model.messages.set('alpha', list);
    }
    await setup.close();
    const reads = async (at: string, io: FileIo, run: Run) => {
      const store = await open(at, io, clock);
      await attempt(run, 'list', () => store.messages.list(PROJECT, 'alpha', { limit: 20, echo: true }));
      const first = (model.messages.get('alpha') ?? [])[4]?.id as string;
      await attempt(run, 'get', () => store.messages.get(PROJECT, 'alpha', first));
      const claim = await attempt(run, 'claim', () => store.claims.create(PROJECT, 'alpha', { limit: 4, ttl: 60 }));
      await attempt(run, 'release', () => store.claims.delete(PROJECT, 'alpha', claim?.id as string));
      assert.deepEqual(store.setAside(), [], 'nothing set aside');
      await store.close();
    };
    const counter = new FaultyFileIo(nodeFileIo, { failAt: Number.POSITIVE_INFINITY, kind: 'EIO', ops: ['readSync'] });
    await reads(dir, counter, { failures: [], retries: 0, model, store: null });
    assert.ok(counter.count >= 3, `the reads read bodies (${counter.count})`);
    let refused = 0;
    for (let n = 1; n <= counter.count; n++) {
      const label = `EIO at body read ${n} of ${counter.count}`;
      const run: Run = { failures: [], retries: 1, model, store: null };
      const copy = freshDir();
      cpSync(dir, copy, { recursive: true });
      await reads(copy, new FaultyFileIo(nodeFileIo, { failAt: n, kind: 'EIO', ops: ['readSync'] }), run);
      assertTyped(run, label);
      assert.equal(run.failures.length, 1, `${label}: the read that met the fault is refused`);
      refused++;
      await verify(copy, model, clock, label);
      rmSync(copy, { recursive: true, force: true });
    }
    console.log(`# EIO on reads: ${counter.count} body reads walked, ${refused} refused and served after`);
  });
});
