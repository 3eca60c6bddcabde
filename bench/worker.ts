/**
 * `npm run bench:worker`: Posthorn's `Worker` against the workers people would otherwise use on
 * the same servers, in one run: BullMQ's `Worker` on the same Redis, pg-boss's `work()` on the
 * same PostgreSQL, and Posthorn's Worker over the embedded disk store.
 *
 * Targets (BENCH_TARGETS picks some):
 *
 *   posthorn-redis     Worker over the Redis driver (REDIS_URL)
 *   bullmq             BullMQ's Worker on the same Redis, jobs removed on completion
 *   posthorn-postgres  Worker over the PostgreSQL driver (DATABASE_URL, synchronous_commit on)
 *   pg-boss            pg-boss 10's work() on the same database, synchronous_commit on
 *   posthorn-disk      Worker over the disk driver (fsync per group commit), in BENCH_DIR or tmpdir
 *
 * Workload, the same for every target: jobs carry their number and the moment they were posted
 * (`performance.now()` of this process). The worker is started first; then BENCH_PRODUCERS
 * producers post the BENCH_JOBS jobs in batches of 100 while it consumes, held back while more
 * than BENCH_BACKLOG jobs are posted and not yet done — so the latency measured (post to handler
 * done) is what the worker adds, not the age of a pile that grows because producers are faster.
 * The handler is a no-op (`noop`) or waits 1 ms (`1ms`, a timer: about 1.1 ms on Node).
 *
 *   jobs_per_s  BENCH_JOBS over the time from the first post to the last handler done
 *   p50/p99     post to handler done, per job (its first run)
 *   duplicates  handler runs beyond the first of a job (counted per job number); must be 0
 *   handler_ms, ceiling_jobs_per_s
 *               the handler's mean duration in this run and concurrency / that: no queue can go
 *               faster, so a ratio goal above it is printed as out of reach
 *
 * Each figure runs in a process of its own over a fixed namespace (key prefix, schema, folder)
 * that is removed before and after. Pairs run back to back, their order alternating, and one
 * `ratio:<op>` line per pair and concurrency gives Posthorn's rate over its peer's (goal: >= 2);
 * posthorn-disk's figure says whether it reached 50,000 jobs/s.
 *
 * How each is driven (the settings that did best on this machine; see bench/RESULTS.md):
 *
 *   Posthorn  new Worker(driverQueue(driver, project, queue), handler, { concurrency, batch })
 *   BullMQ    Queue.addBulk; one Worker with the concurrency; removeOnComplete/removeOnFail
 *   pg-boss   insert; BENCH_PGBOSS_WORKERS work() loops with batchSize BENCH_PGBOSS_BATCH and the
 *             least polling interval (0.5 s); a handler runs its batch's jobs under one limit of
 *             `concurrency` shared by every loop (pg-boss 10 calls a handler once per batch, so
 *             this is how it runs `concurrency` jobs at a time), and a full batch calls
 *             notifyWorker(id) — pg-boss's own way to skip the polling interval when more wait
 *
 *   BENCH_JOBS=100000            jobs per figure
 *   BENCH_TARGETS=...            comma-separated subset of the targets above
 *   BENCH_OPS=noop,1ms           handlers
 *   BENCH_CONCURRENCY=16,64      handler concurrency
 *   BENCH_PRODUCERS=4            concurrent producers (each posts 100 at a time)
 *   BENCH_BACKLOG=2000           most jobs posted and not yet done
 *   BENCH_WORKER_BATCH=0         Posthorn's Worker: most messages one claim takes (0: the
 *                                concurrency, at most 20 — the drivers refuse larger claims)
 *   BENCH_PREFETCH=0             Posthorn's Worker: messages claimed ahead of free handlers (a
 *                                number, or `concurrency` for as many as the concurrency)
 *   BENCH_WORKER_INSTANCES=1     an experiment: Posthorn's concurrency split over this many Workers
 *   BENCH_PGBOSS_WORKERS=2       pg-boss work() loops
 *   BENCH_PGBOSS_BATCH=160       pg-boss batchSize
 *   BENCH_PG_POOL=20             connections each PostgreSQL target may open
 *   BENCH_TIMEOUT_S=600          a figure that has not finished by then reports what it did
 *   REDIS_URL, DATABASE_URL      the shared servers (defaults: the local ones)
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker as BullWorker, Queue } from 'bullmq';
import PgBoss from 'pg-boss';
import { driverQueue, type FinishOutcome, Worker, type WorkQueue } from '../src/client/index.js';
import { silentLogger } from '../src/core/index.js';
import type { DataDriver } from '../src/store/contract/index.js';
import { createDiskDriver } from '../src/store/disk/index.js';
import { createPostgresDriver } from '../src/store/postgres/index.js';
import { createRedisDriver } from '../src/store/redis/index.js';
import { emit, type Figure, percentile, round, rssMb } from './lib.js';
import { postgresCpu, redisCpu } from './peers.js';
import { DATABASE_URL, deleteRedisKeys, dropSchema, REDIS_URL } from './pools.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 4);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 2_000);
const POST_BATCH = 100;
/** 0: the Worker's default (its concurrency). */
const WORKER_BATCH = Number(process.env.BENCH_WORKER_BATCH ?? 0);
const PREFETCH = process.env.BENCH_PREFETCH ?? '0';
const INSTANCES = Number(process.env.BENCH_WORKER_INSTANCES ?? 1);
const PGBOSS_WORKERS = Number(process.env.BENCH_PGBOSS_WORKERS ?? 2);
const PGBOSS_BATCH = Number(process.env.BENCH_PGBOSS_BATCH ?? 160);
const PG_POOL = Number(process.env.BENCH_PG_POOL ?? 20);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;
const DISK_GOAL = 50_000;
/** The drivers' default most messages per claim (Zaqar's limit); a larger claim is refused. */
const MAX_CLAIM = 20;
const PEER_GOAL = 2;
const PROJECT = 'bench';
const QUEUE = 'worker';

/** Fixed namespaces, so a run that was killed leaves nothing the next one does not remove first. */
const REDIS_PREFIX = 'phbench-worker:';
const BULL_PREFIX = 'bullbench-worker';
const POSTGRES_SCHEMA = 'ph_bench_worker';
const PGBOSS_SCHEMA = 'pgboss_bench_worker';
const DISK_DIR = join(process.env.BENCH_DIR ?? tmpdir(), 'posthorn-bench-worker');

/** A job's body: its number (for duplicates) and when it was posted (for latency). */
interface Job {
  n: number;
  t: number;
}

type Handler = (job: Job) => Promise<void>;

/** One system under test, over its namespace (cleaned when opened and when closed). */
interface Target {
  /** How it is driven, for the figure's note. */
  readonly how: string;
  post(jobs: Job[]): Promise<void>;
  /** Starts consuming with `concurrency` handlers at a time. */
  start(handler: Handler, concurrency: number): void;
  /** CPU seconds its server (Redis, every PostgreSQL process) has used so far; 0 without one. */
  serverCpu(): Promise<number>;
  /** Resolves when every finished job is acknowledged to the store (only where that lags). */
  settled?(): Promise<void>;
  /** Stops consuming (lets what runs finish) and removes the namespace. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// --- Posthorn ---------------------------------------------------------------------------------

/** Calls the Worker made to its queue, so a figure says how many round trips a job cost. */
interface QueueCalls {
  claims: number;
  claimed: number;
  emptyClaims: number;
  finishes: number;
  renews: number;
}

/** The queue the Worker runs over, counting its calls on the way (a few increments per call). */
function countingQueue(queue: WorkQueue, calls: QueueCalls): WorkQueue {
  return {
    ...queue,
    name: queue.name,
    async claim(options) {
      const claim = await queue.claim(options);
      calls.claims++;
      if (claim) calls.claimed += claim.messages.length;
      else calls.emptyClaims++;
      return claim;
    },
    renew(claimId, options) {
      calls.renews++;
      return queue.renew(claimId, options);
    },
    finish(messageId, claimId) {
      calls.finishes++;
      return queue.finish(messageId, claimId);
    },
  };
}

/**
 * An experiment, not how the Worker works: `finish` answers 'deleted' at once and the deletes are
 * sent in the background, all those that arrived while the previous batch was under way in one
 * bulk delete per claim. It shows what the Worker would gain if a handler's slot were freed before
 * its message's delete is acknowledged and finishes were coalesced — and it gives up the fence
 * (bulkDelete tells no per-message outcome), so its figures are never the Worker's.
 */
function deferredFinishQueue(queue: WorkQueue, driver: DataDriver): WorkQueue & { settled(): Promise<void> } {
  let pending = new Map<string, string[]>();
  let flushing: Promise<void> | null = null;
  const flush = (): Promise<void> => {
    if (flushing) return flushing;
    if (pending.size === 0) return Promise.resolve();
    const batch = pending;
    pending = new Map();
    flushing = Promise.all(
      [...batch].map(([claimId, ids]) => driver.messages.bulkDelete(PROJECT, queue.name, ids, { claimIds: [claimId] })),
    ).then(() => {
      flushing = null;
      if (pending.size > 0) void flush();
    });
    return flushing;
  };
  return {
    ...queue,
    name: queue.name,
    async finish(messageId, claimId): Promise<FinishOutcome> {
      const ids = pending.get(claimId);
      if (ids) ids.push(messageId);
      else pending.set(claimId, [messageId]);
      void flush();
      return 'deleted';
    },
    async settled() {
      while (flushing || pending.size > 0) await flush();
    },
  };
}

function posthornTarget(
  driver: DataDriver,
  how: string,
  serverCpu: () => Promise<number>,
  cleanup: () => Promise<void>,
  deferred = false,
): Target {
  const workers: Worker[] = [];
  const calls: QueueCalls = { claims: 0, claimed: 0, emptyClaims: 0, finishes: 0, renews: 0 };
  let finishing: ReturnType<typeof deferredFinishQueue> | null = null;
  return {
    serverCpu,
    get how() {
      const perClaim = calls.claims - calls.emptyClaims > 0 ? calls.claimed / (calls.claims - calls.emptyClaims) : 0;
      return (
        (deferred ? 'EXPERIMENT, not the Worker as it is: finishes deferred and coalesced (unfenced); ' : '') +
        (INSTANCES > 1 ? `EXPERIMENT: the concurrency split over ${INSTANCES} Workers; ` : '') +
        `Worker { concurrency, batch: ${WORKER_BATCH || `min(concurrency, ${MAX_CLAIM})`}, prefetch: ${PREFETCH} } over driverQueue; ${how}; ` +
        `capabilities ${[...driver.capabilities].join(' ')}; queue calls: ${calls.claims} claims ` +
        `(${calls.emptyClaims} empty, ${round(perClaim)} messages per non-empty claim), ${calls.finishes} finishes, ${calls.renews} renews`
      );
    },
    async post(jobs) {
      await driver.messages.post(
        PROJECT,
        QUEUE,
        jobs.map((body) => ({ body, ttl: 3600 })),
        'producer',
      );
    },
    async settled() {
      await finishing?.settled();
    },
    start(handler, concurrency) {
      const base = driverQueue(driver, PROJECT, QUEUE);
      finishing = deferred ? deferredFinishQueue(base, driver) : null;
      const queue = countingQueue(finishing ?? base, calls);
      // BENCH_WORKER_INSTANCES > 1 is an experiment: the concurrency split over several Workers.
      for (let i = 0; i < INSTANCES; i++) {
        const share = Math.floor(concurrency / INSTANCES) + (i < concurrency % INSTANCES ? 1 : 0);
        const worker = new Worker(queue, (job) => handler(job.body as Job), {
          concurrency: share,
          batch: WORKER_BATCH || Math.min(share, MAX_CLAIM),
          prefetch: PREFETCH === 'concurrency' ? share : Number(PREFETCH),
        });
        worker.on('error', (error) => console.error(`posthorn worker: ${String(error)}`));
        workers.push(worker);
      }
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      await driver.close();
      await cleanup();
    },
  };
}

async function posthornRedis(deferred = false): Promise<Target> {
  await deleteRedisKeys(REDIS_URL, REDIS_PREFIX);
  const driver = await createRedisDriver({ url: REDIS_URL, keyPrefix: REDIS_PREFIX, logger: silentLogger });
  await driver.queues.create(PROJECT, QUEUE);
  return posthornTarget(
    driver,
    'Redis driver',
    () => redisCpu(REDIS_URL),
    () => deleteRedisKeys(REDIS_URL, REDIS_PREFIX),
    deferred,
  );
}

async function posthornPostgres(deferred = false): Promise<Target> {
  await dropSchema(POSTGRES_SCHEMA);
  const driver = await createPostgresDriver({ url: DATABASE_URL, schema: POSTGRES_SCHEMA, pool: { max: PG_POOL } });
  await driver.queues.create(PROJECT, QUEUE);
  return posthornTarget(
    driver,
    `PostgreSQL driver, pool of ${PG_POOL}`,
    postgresCpu,
    () => dropSchema(POSTGRES_SCHEMA),
    deferred,
  );
}

async function posthornDisk(deferred = false): Promise<Target> {
  rmSync(DISK_DIR, { recursive: true, force: true });
  const driver = await createDiskDriver({ dir: DISK_DIR });
  await driver.queues.create(PROJECT, QUEUE);
  return posthornTarget(
    driver,
    `disk driver in ${DISK_DIR}`,
    async () => 0,
    async () => rmSync(DISK_DIR, { recursive: true, force: true }),
    deferred,
  );
}

// --- BullMQ -----------------------------------------------------------------------------------

/**
 * BullMQ as its guide has it for throughput: `addBulk`, one Worker with the concurrency (it takes
 * the next job in the same round trip that completes one), jobs removed when done so Redis holds
 * only what waits — as Posthorn deletes what was finished.
 */
async function bullmq(): Promise<Target> {
  await deleteRedisKeys(REDIS_URL, `${BULL_PREFIX}:`);
  const { hostname, port } = new URL(REDIS_URL);
  const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE, {
    connection,
    prefix: BULL_PREFIX,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  await queue.waitUntilReady();
  let worker: BullWorker | null = null;
  return {
    how: 'Queue.addBulk; one Worker with the concurrency, jobs removed on completion',
    serverCpu: () => redisCpu(REDIS_URL),
    async post(jobs) {
      await queue.addBulk(jobs.map((data) => ({ name: 'job', data })));
    },
    start(handler, concurrency) {
      worker = new BullWorker(QUEUE, (job) => handler(job.data as Job), {
        connection,
        prefix: BULL_PREFIX,
        concurrency,
      });
      worker.on('error', (error) => console.error(`bullmq worker: ${error.message}`));
    },
    async close() {
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await deleteRedisKeys(REDIS_URL, `${BULL_PREFIX}:`);
    },
  };
}

// --- pg-boss ----------------------------------------------------------------------------------

/** At most `size` holders at a time; the rest wait in order. */
export function limiter(size: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * pg-boss 10 as its docs have it: `insert` many jobs per call; `work()` — each call one polling
 * loop that fetches up to batchSize and hands the batch to the handler, which completes it when it
 * returns. Its own schema, synchronous_commit on (as Posthorn's PostgreSQL driver commits).
 */
async function pgBoss(): Promise<Target> {
  await dropSchema(PGBOSS_SCHEMA);
  // pg-boss hands its options to pg.Pool as they are, so pg's own `options` (not in its types) applies.
  const boss = new PgBoss({
    connectionString: DATABASE_URL,
    schema: PGBOSS_SCHEMA,
    max: PG_POOL,
    schedule: false,
    supervise: false,
    ...{ options: '-c synchronous_commit=on' },
  });
  boss.on('error', (error: Error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  await boss.createQueue(QUEUE);
  const workers: Promise<string>[] = [];
  return {
    serverCpu: postgresCpu,
    how: `insert; ${PGBOSS_WORKERS} work() loops (batchSize ${PGBOSS_BATCH}, polling 0.5 s, notifyWorker on a full batch), handlers under one limit of the concurrency; pool of ${PG_POOL}`,
    async post(jobs) {
      await boss.insert(jobs.map((data) => ({ name: QUEUE, data })));
    },
    start(handler, concurrency) {
      const limit = limiter(concurrency);
      for (let i = 0; i < PGBOSS_WORKERS; i++) {
        let id: string | undefined;
        const started = boss.work<Job>(
          QUEUE,
          { batchSize: PGBOSS_BATCH, pollingIntervalSeconds: 0.5 },
          async (batch) => {
            await Promise.all(batch.map((job) => limit(() => handler(job.data))));
            // A full batch says more may wait: fetch again now rather than after the interval.
            if (batch.length === PGBOSS_BATCH && id) boss.notifyWorker(id);
          },
        );
        started.then((value) => {
          id = value;
        });
        workers.push(started);
      }
    },
    async close() {
      await Promise.all(workers);
      await boss.offWork(QUEUE);
      await boss.stop({ graceful: true, wait: true, timeout: 30_000 });
      await dropSchema(PGBOSS_SCHEMA);
    },
  };
}

const TARGETS: Record<string, () => Promise<Target>> = {
  'posthorn-redis': () => posthornRedis(),
  bullmq,
  'posthorn-postgres': () => posthornPostgres(),
  'pg-boss': pgBoss,
  'posthorn-disk': () => posthornDisk(),
};

/** Experiments, run only when BENCH_TARGETS names them: see deferredFinishQueue. */
const EXPERIMENTS: Record<string, () => Promise<Target>> = {
  'posthorn-redis+deferred': () => posthornRedis(true),
  'posthorn-postgres+deferred': () => posthornPostgres(true),
  'posthorn-disk+deferred': () => posthornDisk(true),
};

/** Posthorn's target and the peer it is compared with (a peer of null: measured alone). */
const PAIRS: [string, string | null][] = [
  ['posthorn-redis', 'bullmq'],
  ['posthorn-postgres', 'pg-boss'],
  ['posthorn-disk', null],
  ['posthorn-redis+deferred', 'bullmq'],
  ['posthorn-postgres+deferred', 'pg-boss'],
  ['posthorn-disk+deferred', null],
];

const HANDLERS: Record<string, () => Promise<void>> = {
  noop: async () => {},
  '1ms': () => sleep(1),
};

// --- one figure -------------------------------------------------------------------------------

interface WorkerFigure extends Figure {
  jobs: number;
  jobs_per_s: number;
  duplicates: number;
  /** CPU of this process (producers included) and of the server, per job done. */
  client_cpu_us_per_job: number;
  server_cpu_us_per_job: number;
  /** The handler's own mean duration in this run, and what `concurrency` handlers of it allow at most. */
  handler_ms: number;
  ceiling_jobs_per_s: number;
  /** Jobs posted whose handler never ran (only when a figure timed out). */
  missing?: number;
  vs?: string;
}

/** In a child process: one target, one handler, one concurrency. */
async function runOne(target: string, op: string, concurrency: number): Promise<WorkerFigure> {
  const open = TARGETS[target] ?? EXPERIMENTS[target];
  const work = HANDLERS[op];
  if (!open || !work) throw new Error(`unknown target or op: ${target} ${op}`);
  const system = await open();
  // Runs per job number and the first run's latency: typed arrays, so counting costs no allocation.
  const runs = new Uint16Array(JOBS);
  const latencies = new Float64Array(JOBS);
  let done = 0;
  let duplicates = 0;
  // Summed handler time: a 1 ms sleep takes longer than 1 ms under load, and the ceiling it sets
  // (concurrency / mean duration) is what a goal at that concurrency has to fit under.
  let handlerMs = 0;
  let handled = 0;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const wake: (() => void)[] = [];
  system.start(async (job) => {
    const began = performance.now();
    await work();
    handlerMs += performance.now() - began;
    handled++;
    const count = (runs[job.n] ?? 0) + 1;
    runs[job.n] = count;
    if (count > 1) {
      duplicates++;
      return;
    }
    latencies[job.n] = performance.now() - job.t;
    done++;
    if (done % POST_BATCH === 0) for (const resume of wake.splice(0)) resume();
    if (done === JOBS) finished();
  }, concurrency);

  let posted = 0;
  const server0 = await system.serverCpu();
  const client0 = process.cpuUsage();
  const start = performance.now();
  const produce = async () => {
    while (posted < JOBS && performance.now() - start < TIMEOUT_MS) {
      if (posted - done >= BACKLOG) {
        // Woken as jobs get done; the timer only keeps a stalled worker from holding it forever.
        await new Promise<void>((resolve) => {
          wake.push(resolve);
          setTimeout(resolve, 100).unref();
        });
        continue;
      }
      const from = posted;
      const count = Math.min(POST_BATCH, JOBS - from);
      posted += count;
      const t = performance.now();
      await system.post(Array.from({ length: count }, (_, i) => ({ n: from + i, t })));
    }
  };
  const timeout = sleep(TIMEOUT_MS).then(() => 'timeout' as const);
  await Promise.all(Array.from({ length: PRODUCERS }, produce));
  const outcome = await Promise.race([allDone.then(() => 'done' as const), timeout]);
  await system.settled?.();
  const elapsed = (performance.now() - start) / 1000;
  const completed = done;
  const client = process.cpuUsage(client0);
  const server = (await system.serverCpu()) - server0;
  const ceiling = handlerMs > 0 ? Math.round((concurrency * 1000 * handled) / handlerMs) : 0;
  const perJob = (us: number) => (completed > 0 ? round(us / completed) : 0);
  await system.close();
  const how = system.how;
  const measured = Array.from(latencies.subarray(0, JOBS)).filter((_, n) => (runs[n] ?? 0) > 0);
  return {
    bench: 'worker',
    target,
    op,
    concurrency,
    jobs: completed,
    jobs_per_s: Math.round(completed / elapsed),
    p50_ms: percentile(measured, 50),
    p99_ms: percentile(measured, 99),
    duplicates,
    ...(outcome === 'timeout' ? { missing: JOBS - completed } : {}),
    seconds: round(elapsed),
    client_cpu_us_per_job: perJob(client.user + client.system),
    server_cpu_us_per_job: perJob(server * 1e6),
    handler_ms: round(handled > 0 ? handlerMs / handled : 0),
    ceiling_jobs_per_s: ceiling,
    rss_mb: rssMb(),
    note:
      `${PRODUCERS} producers posting ${POST_BATCH} at a time while it consumes, backlog held under ${BACKLOG}; ` +
      `latency post to handler done; ${how}` +
      (target === 'posthorn-disk' ? `; goal ${DISK_GOAL} jobs/s ${diskGoal(completed / elapsed, ceiling)}` : '') +
      (outcome === 'timeout' ? `; timed out after ${TIMEOUT_MS / 1000} s` : ''),
  };
}

function diskGoal(rate: number, ceiling: number): string {
  if (rate >= DISK_GOAL) return 'met';
  return ceiling > 0 && ceiling < DISK_GOAL ? `missed (out of reach: the handlers' ceiling is ${ceiling})` : 'missed';
}

// --- the run ----------------------------------------------------------------------------------

function runChild(target: string, op: string, concurrency: number): Promise<WorkerFigure> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_WORKER_ONE: `${target}:${op}:${concurrency}` },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`${target} ${op} ${concurrency} failed (${code ?? signal})`));
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`${target} ${op} ${concurrency} printed no figure`));
      resolve(JSON.parse(line) as WorkerFigure);
    });
  });
}

const list = (value: string | undefined, fallback: string[]) => (value ? value.split(',') : fallback);

export async function main(): Promise<void> {
  const one = process.env.BENCH_WORKER_ONE;
  if (one) {
    const [target, op, concurrency] = one.split(':') as [string, string, string];
    emit(await runOne(target, op, Number(concurrency)));
    // pg-boss and BullMQ may leave timers behind; the figure is out, so end here.
    process.exit(0);
  }
  const wanted = list(process.env.BENCH_TARGETS, Object.keys(TARGETS));
  const ops = list(process.env.BENCH_OPS, Object.keys(HANDLERS));
  const concurrencies = list(process.env.BENCH_CONCURRENCY, ['16', '64']).map(Number);
  for (const name of wanted) if (!TARGETS[name] && !EXPERIMENTS[name]) throw new Error(`unknown target ${name}`);
  let turn = 0;
  for (const op of ops) {
    for (const concurrency of concurrencies) {
      for (const [ours, peer] of PAIRS) {
        // An experiment's pair runs only when the experiment is asked for (its peer has its own pair).
        if (EXPERIMENTS[ours] && !wanted.includes(ours)) continue;
        const pair = [ours, peer].filter((t): t is string => t !== null && wanted.includes(t));
        // Alternate who goes first, so neither always meets a cold or a warm server.
        const order = turn++ % 2 === 0 ? pair : [...pair].reverse();
        const figures = new Map<string, WorkerFigure>();
        for (const target of order) figures.set(target, await runChild(target, op, concurrency));
        const a = figures.get(ours);
        const b = peer ? figures.get(peer) : undefined;
        if (a && b && b.jobs_per_s > 0) {
          const ratio = Math.round((a.jobs_per_s / b.jobs_per_s) * 100) / 100;
          // A goal above what the handlers allow cannot be met by any queue: say so.
          const ceiling = a.ceiling_jobs_per_s;
          const reach =
            ratio < PEER_GOAL && ceiling > 0 && b.jobs_per_s * PEER_GOAL > ceiling
              ? ` (out of reach: ${PEER_GOAL} x ${b.jobs_per_s} is above the handlers' ceiling of ${ceiling} jobs/s)`
              : '';
          emit({
            bench: 'worker',
            target: ours,
            op: `ratio:${op}`,
            concurrency,
            vs: peer ?? undefined,
            ratio,
            note: `${ours} jobs/s over ${peer} jobs/s, back to back; goal >= ${PEER_GOAL}: ${ratio >= PEER_GOAL ? 'met' : 'missed'}${reach}`,
          } as Figure);
        }
      }
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
