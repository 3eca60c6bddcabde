/**
 * `npm run bench:store`: the same workloads on every store target, in one run, so their ratio
 * holds even on a noisy machine. Prints one JSON line per figure (see bench/lib.ts).
 *
 * The target append-floor runs the post workloads only, against no store: the same bodies
 * durably appended by a bare group-commit writer (bench/append-floor.ts). Each of its workloads
 * runs just before the disk store's same workload, and a `ratio:post-<batch>x<concurrency>` line
 * gives the disk store's msgs/s over the floor's (goal >= 0.5).
 *
 *   BENCH_TARGETS=memory,disk   which targets (default: all registered: memory, append-floor, disk,
 *                               redis, redis-aof, postgres; see bench/pools.ts for REDIS_URL, DATABASE_URL)
 *   BENCH_FLOOR_SYNCS=2         fdatasyncs the floor's writer runs at once (the journal's MAX_SYNCS)
 *   BENCH_PAIRS=1               floor/disk pairs per post workload (order alternating); the ratio is
 *                               of the medians, for a machine too noisy for one pair
 *   BENCH_SECONDS=3             seconds per timed workload
 *   BENCH_OPEN_MESSAGES=1000000 messages queued for the memory-per-message and open figures
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import type { DataDriver } from '../src/store/contract/index.js';
import { createDiskDriver, type DiskDriver } from '../src/store/disk/index.js';
import { createMemoryDriver } from '../src/store/memory/index.js';
import { createPostgresDriver } from '../src/store/postgres/index.js';
import { createRedisDriver } from '../src/store/redis/index.js';
import { AppendFloor } from './append-floor.js';
import { emit, type Figure, percentile, round, rssMb } from './lib.js';
import { type BenchPool, benchPool, DATABASE_URL, REDIS_URL } from './pools.js';
import { APPENDFSYNC_ALWAYS, type BenchRedis, startRedis } from './redis-server.js';

/** What the post workloads use of a driver, so that the append floor can stand in for one. */
interface Poster {
  messages: {
    post(project: string, queue: string, messages: { body: unknown; ttl: number }[], client: string): Promise<unknown>;
  };
  close(): Promise<void>;
}

export interface StoreTarget<D extends Poster = DataDriver> {
  name: string;
  /** A driver over a new, empty store. */
  open(): Promise<D>;
  /** Durable targets: close and reopen the same store, for the open-time figure. */
  reopen?(driver: D): Promise<D>;
  /** Bytes the store uses on disk now, for durable targets. */
  diskBytes?(driver: D): Promise<number>;
  /** Removes what open() made. */
  dispose?(): Promise<void>;
  /** Workloads this target does not run. */
  skip?: string[];
}

const benchDirs: string[] = [];
let namespace: BenchPool | null = null;
let aofServer: BenchRedis | null = null;

const FLOOR = 'append-floor';

/** No store: each post's bodies framed as one record and made durable by a bare writer. */
const floorTarget: StoreTarget<Poster> = {
  name: FLOOR,
  async open() {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'posthorn-floor-'));
    benchDirs.push(dir);
    const floor = new AppendFloor(join(dir, 'floor.log'), Number(process.env.BENCH_FLOOR_SYNCS ?? 2));
    return {
      messages: { post: (_project, _queue, messages) => floor.append(messages.map((m) => m.body)) },
      close: () => floor.close(),
    };
  },
  async dispose() {
    for (const dir of benchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  },
};

const targets: StoreTarget[] = [
  { name: 'memory', open: async () => createMemoryDriver() },
  {
    name: 'disk',
    async open() {
      const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'posthorn-bench-'));
      benchDirs.push(dir);
      return createDiskDriver({ dir });
    },
    async reopen(driver) {
      await driver.close();
      return createDiskDriver({ dir: (driver as DiskDriver).dir });
    },
    async diskBytes(driver) {
      return (driver as DiskDriver).diskUsage().bytes;
    },
    async dispose() {
      for (const dir of benchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  },
  {
    // The shared Redis (no persistence), under a key prefix of its own.
    name: 'redis',
    async open() {
      namespace = benchPool('redis');
      return createRedisDriver({ url: REDIS_URL, keyPrefix: namespace.namespace, logger: silentLogger });
    },
    async dispose() {
      await namespace?.dispose();
    },
    // A million messages would fill the shared Redis for a figure of this process's memory.
    skip: ['hold'],
  },
  {
    // A Redis started for the workload with appendonly yes and appendfsync always (DURABILITY).
    name: 'redis-aof',
    async open() {
      aofServer = await startRedis(APPENDFSYNC_ALWAYS);
      return createRedisDriver({ url: aofServer.url, logger: silentLogger });
    },
    async diskBytes() {
      const { execSync } = await import('node:child_process');
      return Number(execSync(`du -sb ${aofServer?.dir}`, { encoding: 'utf8' }).split(/\s/)[0]);
    },
    async dispose() {
      await aofServer?.stop();
      aofServer = null;
    },
  },
  {
    // The shared PostgreSQL (synchronous_commit on), in a schema of its own.
    name: 'postgres',
    async open() {
      namespace = benchPool('postgres');
      return createPostgresDriver({ url: DATABASE_URL, schema: namespace.namespace });
    },
    async reopen(driver) {
      await driver.close();
      return createPostgresDriver({ url: DATABASE_URL, schema: namespace?.namespace });
    },
    async diskBytes() {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ bytes: string }>(
          `SELECT sum(pg_total_relation_size(c.oid))::text AS bytes FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [namespace?.namespace],
        );
        return Number(rows[0]?.bytes ?? 0);
      } finally {
        await client.end();
      }
    },
    async dispose() {
      await namespace?.dispose();
    },
  },
];

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const OPEN_MESSAGES = Number(process.env.BENCH_OPEN_MESSAGES ?? 1_000_000);
const PROJECT = 'bench';
const MAX_BACKLOG = 500;
const PAD = randomBytes(120).toString('hex').slice(0, 228);

/** A 256-byte body (as MessagePack) carrying the moment it was posted. */
function body(): { t: number; pad: string } {
  return { t: performance.now(), pad: PAD };
}

async function postWorkload(target: StoreTarget<Poster>, batch: number, concurrency: number): Promise<void> {
  const driver = await target.open();
  const messages = () => Array.from({ length: batch }, () => ({ body: body(), ttl: 3600 }));
  const latencies: number[] = [];
  let done = 0;
  const start = performance.now();
  const poster = async (i: number) => {
    const queue = `post-${i % 8}`;
    while (performance.now() - start < SECONDS * 1000) {
      const t0 = performance.now();
      await driver.messages.post(PROJECT, queue, messages(), `poster-${i}`);
      latencies.push(performance.now() - t0);
      done += batch;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => poster(i)));
  const elapsed = (performance.now() - start) / 1000;
  emit({
    bench: 'store',
    target: target.name,
    op: 'post',
    batch,
    concurrency,
    msgs_per_s: Math.round(done / elapsed),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    rss_mb: rssMb(),
  });
  await driver.close();
  await target.dispose?.();
}

async function fill(driver: DataDriver, queue: string, count: number): Promise<void> {
  for (let posted = 0; posted < count; posted += 100) {
    await driver.messages.post(
      PROJECT,
      queue,
      Array.from({ length: 100 }, () => ({ body: body(), ttl: 3600 })),
      'filler',
    );
  }
}

async function claimDeleteWorkload(target: StoreTarget, limit: number, concurrency: number): Promise<void> {
  const driver = await target.open();
  const queues = 4;
  const prefill = 300_000;
  for (let q = 0; q < queues; q++) await fill(driver, `work-${q}`, prefill / queues);
  const latencies: number[] = [];
  const start = performance.now();
  let done = 0;
  const consumer = async (i: number) => {
    const queue = `work-${i % queues}`;
    while (performance.now() - start < SECONDS * 1000) {
      const t0 = performance.now();
      const claim = await driver.claims.create(PROJECT, queue, { limit, ttl: 60 });
      if (!claim) break;
      await driver.messages.bulkDelete(
        PROJECT,
        queue,
        claim.messages.map((m) => m.id),
        { claimIds: [claim.id] },
      );
      latencies.push(performance.now() - t0);
      done += claim.messages.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => consumer(i)));
  const elapsed = (performance.now() - start) / 1000;
  emit({
    bench: 'store',
    target: target.name,
    op: 'claim-delete',
    batch: limit,
    concurrency,
    msgs_per_s: Math.round(done / elapsed),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    rss_mb: rssMb(),
    note: done >= prefill ? 'queue ran dry; figure is a lower bound' : 'claim then delete by ids with the claim id',
  });
  await driver.close();
  await target.dispose?.();
}

async function mixedWorkload(target: StoreTarget, producers: number, consumers: number): Promise<void> {
  const driver = await target.open();
  const queue = 'mixed';
  await driver.queues.create(PROJECT, queue);
  const delays: number[] = [];
  let consumed = 0;
  let produced = 0;
  const start = performance.now();
  const running = () => performance.now() - start < SECONDS * 1000;
  // Producers hold back while the backlog is over MAX_BACKLOG, so the figure is the rate the
  // consumers sustain and the latency is not just the time a growing backlog takes to drain.
  const producer = async (i: number) => {
    while (running()) {
      if (produced - consumed > MAX_BACKLOG) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await driver.messages.post(
        PROJECT,
        queue,
        Array.from({ length: 10 }, () => ({ body: body(), ttl: 3600 })),
        `producer-${i}`,
      );
      produced += 10;
    }
  };
  const consumer = async () => {
    while (running()) {
      const claim = await driver.claims.create(PROJECT, queue, { limit: 20, ttl: 60 });
      if (!claim) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const now = performance.now();
      for (const m of claim.messages) delays.push(now - (m.body as { t: number }).t);
      await driver.messages.bulkDelete(
        PROJECT,
        queue,
        claim.messages.map((m) => m.id),
        { claimIds: [claim.id] },
      );
      consumed += claim.messages.length;
    }
  };
  await Promise.all([
    ...Array.from({ length: producers }, (_, i) => producer(i)),
    ...Array.from({ length: consumers }, () => consumer()),
  ]);
  const elapsed = (performance.now() - start) / 1000;
  emit({
    bench: 'store',
    target: target.name,
    op: 'mixed',
    batch: 10,
    concurrency: producers + consumers,
    msgs_per_s: Math.round(consumed / elapsed),
    p50_ms: percentile(delays, 50),
    p99_ms: percentile(delays, 99),
    rss_mb: rssMb(),
    note: `${producers} producers (batches of 10, backlog held under ${MAX_BACKLOG}), ${consumers} consumers (claims of 20); latency from post to claim`,
  });
  await driver.close();
  await target.dispose?.();
}

async function sizeAndOpenWorkload(target: StoreTarget): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseline = process.memoryUsage().rss;
  let driver = await target.open();
  await fill(driver, 'big', OPEN_MESSAGES);
  gc?.();
  const loaded = process.memoryUsage().rss;
  emit({
    bench: 'store',
    target: target.name,
    op: 'hold',
    messages: OPEN_MESSAGES,
    rss_bytes_per_msg: Math.round((loaded - baseline) / OPEN_MESSAGES),
    rss_mb: rssMb(),
    note: gc ? 'RSS growth after posting, after a full GC' : 'run with --expose-gc for a steadier figure',
  });
  if (target.diskBytes) {
    emit({
      bench: 'store',
      target: target.name,
      op: 'space',
      messages: OPEN_MESSAGES,
      bytes_per_msg: Math.round((await target.diskBytes(driver)) / OPEN_MESSAGES),
      note: '256-byte bodies',
    });
  }
  if (target.reopen) {
    const t0 = performance.now();
    driver = await target.reopen(driver);
    const seconds = (performance.now() - t0) / 1000;
    const stats = await driver.queues.stats(PROJECT, 'big');
    emit({
      bench: 'store',
      target: target.name,
      op: 'open',
      messages: stats.total,
      seconds: round(seconds),
      rss_mb: rssMb(),
    });
  }
  await driver.close();
  await target.dispose?.();
}

type Workload = [name: string, run: (target: StoreTarget) => Promise<void>];
type PostWorkload = [name: string, run: (target: StoreTarget<Poster>) => Promise<void>];

/** The workloads the append floor runs too. */
const postWorkloads: PostWorkload[] = [
  ['post-1x64', (t) => postWorkload(t, 1, 64)],
  ['post-10x1', (t) => postWorkload(t, 10, 1)],
  ['post-10x16', (t) => postWorkload(t, 10, 16)],
  ['post-100x1', (t) => postWorkload(t, 100, 1)],
  ['post-100x16', (t) => postWorkload(t, 100, 16)],
];

const workloads: Workload[] = [
  ['hold', sizeAndOpenWorkload],
  ...postWorkloads,
  ['claim-10', (t) => claimDeleteWorkload(t, 10, 8)],
  ['claim-20', (t) => claimDeleteWorkload(t, 20, 8)],
  ['claim-10x32', (t) => claimDeleteWorkload(t, 10, 32)],
  ['claim-20x32', (t) => claimDeleteWorkload(t, 20, 32)],
  ['mixed', (t) => mixedWorkload(t, 4, 4)],
  ['mixed-16', (t) => mixedWorkload(t, 16, 16)],
];

const FLOOR_GOAL = 0.5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Each workload of each target runs in a process of its own, so no figure carries the heap or
 * the page cache of another (BENCH_ONE=target:workload runs a single one here). The floor's
 * post workloads run just before the disk store's, so that each ratio is of figures taken back
 * to back.
 */
export async function main(): Promise<void> {
  const one = process.env.BENCH_ONE;
  if (one) {
    const [targetName, workloadName] = one.split(':');
    let run: (() => Promise<void>) | undefined;
    if (targetName === FLOOR) {
      const workload = postWorkloads.find(([name]) => name === workloadName);
      if (workload) run = () => workload[1](floorTarget);
    } else {
      const target = targets.find((t) => t.name === targetName);
      const workload = workloads.find(([name]) => name === workloadName);
      if (target && workload) run = () => workload[1](target);
    }
    if (!run) throw new Error(`unknown target or workload in BENCH_ONE=${one}`);
    await run();
    emit({
      bench: 'store',
      target: targetName as string,
      op: `peak:${workloadName}`,
      rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      note: 'peak RSS of this workload’s process',
    });
    return;
  }
  const { spawnSync } = await import('node:child_process');
  const wanted = process.env.BENCH_TARGETS?.split(',');
  const floorWanted = !wanted || wanted.includes(FLOOR);
  const diskWanted = !wanted || wanted.includes('disk');
  const pairs = Math.max(1, Number(process.env.BENCH_PAIRS ?? 1));
  const runs: [target: string, workload: string][] = [];
  for (const target of targets.filter((t) => !wanted || wanted.includes(t.name))) {
    for (const [name] of workloads) {
      if (target.skip?.includes(name)) continue;
      const isPost = postWorkloads.some(([p]) => p === name);
      if (!(isPost && floorWanted && target.name === 'disk')) {
        runs.push([target.name, name]);
        continue;
      }
      // Pairs alternate who goes first, so that neither always meets the machine warmer or busier.
      for (let k = 0; k < pairs; k++) {
        runs.push(...(k % 2 === 0 ? [FLOOR, 'disk'] : ['disk', FLOOR]).map((t): [string, string] => [t, name]));
      }
    }
  }
  if (floorWanted && !diskWanted) for (const [name] of postWorkloads) runs.push([FLOOR, name]);
  /** Each post workload's figures of the floor and of the disk store, in run order. */
  const rates = new Map<string, { floor: number[]; disk: number[]; figure?: Figure }>();
  for (const [target, name] of runs) {
    const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string], {
      stdio: ['inherit', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, BENCH_ONE: `${target}:${name}` },
    });
    process.stdout.write(run.stdout ?? '');
    if (run.status !== 0) throw new Error(`${target}:${name} failed (${run.status ?? run.signal})`);
    const figure = (run.stdout ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Figure)
      .find((f) => f.op === 'post');
    if (!figure?.msgs_per_s || (target !== FLOOR && target !== 'disk')) continue;
    const pair = rates.get(name) ?? { floor: [], disk: [] };
    rates.set(name, pair);
    if (target === FLOOR) pair.floor.push(figure.msgs_per_s);
    else {
      pair.disk.push(figure.msgs_per_s);
      pair.figure = figure;
    }
    if (pair.floor.length < pairs || pair.disk.length < pairs || !pair.figure) continue;
    const ratio = Math.round((median(pair.disk) / median(pair.floor)) * 100) / 100;
    const how = pairs === 1 ? 'back to back' : `medians of ${pairs} back-to-back pairs`;
    emit({
      bench: 'store',
      target: 'disk',
      op: `ratio:${name}`,
      batch: pair.figure.batch,
      concurrency: pair.figure.concurrency,
      vs: FLOOR,
      ratio,
      note: `disk post msgs/s over the durable-append floor's, ${how}; goal >= ${FLOOR_GOAL}: ${ratio >= FLOOR_GOAL ? 'met' : 'missed'}`,
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
