/**
 * `npm run bench:peers`: one workload through Posthorn's Redis and PostgreSQL drivers and through
 * the peers people would otherwise use on the same servers — BullMQ on the same Redis, pg-boss on
 * the same PostgreSQL — in one run, so their ratio holds however busy the machine is.
 *
 * Systems (BENCH_PEER_SYSTEMS picks some; each pair is measured back to back, order alternating):
 *
 *   posthorn-redis      the Redis driver on REDIS_URL (the shared Redis, no persistence)
 *   bullmq              BullMQ on the same Redis
 *   posthorn-redis-aof  the Redis driver on a Redis this bench starts with appendfsync always
 *   bullmq-aof          BullMQ on that Redis
 *   posthorn-postgres   the PostgreSQL driver on DATABASE_URL (synchronous_commit on: durable)
 *   pg-boss             pg-boss on the same database, synchronous_commit on
 *
 * Phases, each in a process of its own over a fresh namespace (key prefix or schema) that is
 * removed after:
 *
 *   produce  producers post batches (addBulk / insert / a post of many messages) as fast as acked
 *   consume  a prefilled queue is drained: Posthorn claims and deletes by ids with the claim id;
 *            BullMQ runs a Worker (jobs removed on completion); pg-boss fetches and completes
 *   e2e      producers and consumers together, one queue; more producers than the consumers
 *            can keep up with, held back while the backlog is over BENCH_PEER_BACKLOG, so the
 *            figure is the rate the consumers sustain and the latency (post to delivery) is
 *            bounded by the backlog, not the age of a growing one
 *
 * Each system is driven the way its documentation has it for throughput, with the settings
 * that did best on this machine in a sweep (see the notes of each figure):
 *
 *   Posthorn  16 claim loops, claims of 20 (Zaqar's limit), bulk delete by ids with the claim id
 *   BullMQ    Queue.addBulk; one Worker, concurrency 64; jobs removed on completion
 *   pg-boss   insert; 2 loops of fetch (batchSize 160) and complete by ids — work() without
 *             its polling interval (at least 0.5 s); more loops poll more and do worse
 *
 * Posthorn's and pg-boss's consumers hold at most 320 messages at a time (16 x 20, 2 x 160).
 * pg-boss drains faster the more one fetch takes (a fetch costs it milliseconds of server time
 * whatever its size): BENCH_PGBOSS_BATCH=500 shows that; its end-to-end rate changes little.
 *
 * Every delivery is checked against the ids already delivered in the phase: `duplicates` must be
 * 0. One JSON line per figure (bench/lib.ts), with the CPU this process and the server spent per
 * message; after the rounds, one `range:<phase>` line per system (median, min, max) and one
 * `ratio:<phase>` line per pair (Posthorn over its peer in the same round; median, min, max).
 *
 *   BENCH_SECONDS=5              seconds of the produce and e2e phases
 *   BENCH_ROUNDS=3               rounds of every phase
 *   BENCH_PEER_MESSAGES=100000   messages drained by the consume phase (PostgreSQL systems: half)
 *   BENCH_PEER_BATCH=100         messages per post in the produce phase (e2e posts 10)
 *   BENCH_PEER_PRODUCERS=8       concurrent producers in the produce phase
 *   BENCH_PEER_E2E_PRODUCERS=16  concurrent producers in the e2e phase
 *   BENCH_PEER_BACKLOG=1000      most messages posted and not yet consumed in the e2e phase
 *   BENCH_PEER_CONSUMERS=16      Posthorn's claim loops
 *   BENCH_BULLMQ_CONCURRENCY=64  BullMQ's Worker concurrency
 *   BENCH_PGBOSS_CONSUMERS=2     pg-boss fetch loops
 *   BENCH_PGBOSS_BATCH=160       pg-boss batchSize
 *   BENCH_PEER_SYSTEMS=...       comma-separated subset of the systems above
 *   BENCH_PEER_PHASES=...        comma-separated subset of produce, consume, e2e
 *   BENCH_PG_POOL=20             connections each PostgreSQL system may open
 *   REDIS_URL, DATABASE_URL      the shared servers (defaults: the local ones)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import PgBoss from 'pg-boss';
import { silentLogger } from '../src/core/index.js';
import type { DataDriver } from '../src/store/contract/index.js';
import { createPostgresDriver } from '../src/store/postgres/index.js';
import { createRedisDriver } from '../src/store/redis/index.js';
import { emit, type Figure, percentile, round, rssMb } from './lib.js';
import { DATABASE_URL, deleteRedisKeys, dropSchema, REDIS_URL } from './pools.js';
import { APPENDFSYNC_ALWAYS, startRedis } from './redis-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MESSAGES = Number(process.env.BENCH_PEER_MESSAGES ?? 100_000);
const BATCH = Number(process.env.BENCH_PEER_BATCH ?? 100);
const PRODUCERS = Number(process.env.BENCH_PEER_PRODUCERS ?? 8);
const E2E_PRODUCERS = Number(process.env.BENCH_PEER_E2E_PRODUCERS ?? 16);
const E2E_BATCH = 10;
const BACKLOG = Number(process.env.BENCH_PEER_BACKLOG ?? 1000);
const PG_POOL = Number(process.env.BENCH_PG_POOL ?? 20);
/** Posthorn's claims take at most 20 messages (Zaqar's limit); pg-boss fetches batches of the same size. */
const TAKE = 20;
const PROJECT = 'bench';
const QUEUE = 'peers';
const PAD = randomBytes(120).toString('hex').slice(0, 228);

/** A message body of about 256 bytes carrying the moment it was posted. */
interface Body {
  t: number;
  pad: string;
}

function bodies(n: number): Body[] {
  const t = performance.now();
  return Array.from({ length: n }, () => ({ t, pad: PAD }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a consumer reports: each message as it is delivered, then how many were acknowledged. */
interface Sink {
  delivered(id: string, body: Body): void;
  acked(count: number): void;
  /** A claim or fetch that found nothing. */
  empty(): void;
}

interface Consumers {
  stop(): Promise<void>;
}

/** One system under test, over a namespace of its own. */
interface System {
  /** How the system is driven, for the figures' notes. */
  readonly how: string;
  /** Most messages one consumer takes at a time. */
  readonly take: number;
  /** How many consumers (loops or worker concurrency) it runs. */
  readonly consumers: number;
  post(batch: Body[]): Promise<void>;
  consume(sink: Sink): Consumers;
  /** CPU seconds the server (Redis, or every PostgreSQL process) has used so far. */
  serverCpu(): Promise<number>;
  /** Removes the namespace and closes every connection. */
  close(): Promise<void>;
}

// --- Posthorn ---------------------------------------------------------------------------------

/** Claim loops: claim up to TAKE, hand them over, delete them by ids with the claim id. */
function posthornSystem(
  driver: DataDriver,
  consumers: number,
  how: string,
  serverCpu: () => Promise<number>,
  cleanup: () => Promise<void>,
): System {
  const queue = QUEUE;
  return {
    how,
    take: TAKE,
    consumers,
    serverCpu,
    async post(batch) {
      await driver.messages.post(
        PROJECT,
        queue,
        batch.map((body) => ({ body, ttl: 3600 })),
        'producer',
      );
    },
    consume(sink) {
      let stopped = false;
      const loop = async () => {
        while (!stopped) {
          const claim = await driver.claims.create(PROJECT, queue, { limit: TAKE, ttl: 60 });
          if (!claim) {
            sink.empty();
            await sleep(1);
            continue;
          }
          const ids = claim.messages.map((m) => m.id);
          for (const m of claim.messages) sink.delivered(m.id, m.body as Body);
          await driver.messages.bulkDelete(PROJECT, queue, ids, { claimIds: [claim.id] });
          sink.acked(ids.length);
        }
      };
      const loops = Array.from({ length: consumers }, loop);
      return {
        async stop() {
          stopped = true;
          await Promise.all(loops);
        },
      };
    },
    async close() {
      await driver.close();
      await cleanup();
    },
  };
}

async function posthornRedis(url: string): Promise<System> {
  const keyPrefix = `phbench:${randomBytes(4).toString('hex')}:`;
  const driver = await createRedisDriver({ url, keyPrefix, logger: silentLogger });
  await driver.queues.create(PROJECT, QUEUE);
  const consumers = Number(process.env.BENCH_PEER_CONSUMERS ?? 16);
  return posthornSystem(
    driver,
    consumers,
    `${consumers} claim loops (claim ${TAKE}, bulk delete by ids with the claim id); capabilities ${[...driver.capabilities].join(' ')}`,
    () => redisCpu(url),
    () => deleteRedisKeys(url, keyPrefix),
  );
}

async function posthornPostgres(): Promise<System> {
  const schema = `ph_bench_${randomBytes(4).toString('hex')}`;
  const driver = await createPostgresDriver({ url: DATABASE_URL, schema, pool: { max: PG_POOL } });
  await driver.queues.create(PROJECT, QUEUE);
  const consumers = Number(process.env.BENCH_PEER_CONSUMERS ?? 16);
  return posthornSystem(
    driver,
    consumers,
    `${consumers} claim loops (claim ${TAKE}, bulk delete by ids with the claim id); pool of ${PG_POOL}; capabilities ${[...driver.capabilities].join(' ')}`,
    postgresCpu,
    () => dropSchema(schema),
  );
}

// --- BullMQ -----------------------------------------------------------------------------------

/**
 * BullMQ as its guide has it for throughput: `addBulk` to produce, one Worker with a high
 * `concurrency` to consume (it fetches the next job in the same call that completes one), jobs
 * removed on completion so Redis holds only what waits — as Posthorn deletes what it consumed.
 */
async function bullmq(url: string): Promise<System> {
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null };
  const prefix = `bullbench${randomBytes(4).toString('hex')}`;
  const name = 'peers';
  const queue = new Queue(name, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  await queue.waitUntilReady();
  const concurrency = Number(process.env.BENCH_BULLMQ_CONCURRENCY ?? 64);
  return {
    how: `Queue.addBulk; one Worker with concurrency ${concurrency}, jobs removed on completion`,
    take: 1,
    consumers: concurrency,
    serverCpu: () => redisCpu(url),
    async post(batch) {
      await queue.addBulk(batch.map((data) => ({ name: 'm', data })));
    },
    consume(sink) {
      const worker = new Worker(
        name,
        async (job) => {
          sink.delivered(job.id as string, job.data as Body);
        },
        { connection, prefix, concurrency },
      );
      worker.on('completed', () => sink.acked(1));
      worker.on('error', (error) => console.error(`bullmq worker: ${error.message}`));
      return {
        async stop() {
          await worker.close();
        },
      };
    },
    async close() {
      await queue.obliterate({ force: true });
      await queue.close();
      await deleteRedisKeys(url, `${prefix}:`);
    },
  };
}

// --- pg-boss ----------------------------------------------------------------------------------

/**
 * pg-boss as its docs have it for throughput: `insert` of many jobs per call to produce; to
 * consume, loops that `fetch` a batch and `complete` it by ids — what `work()` does, without its
 * polling interval (at least half a second) between empty fetches, so it is never idle while
 * jobs wait. Its own schema, synchronous_commit on.
 */
async function pgBoss(): Promise<System> {
  const schema = `pgboss_bench_${randomBytes(4).toString('hex')}`;
  // pg-boss hands its options to pg.Pool as they are, so pg's own `options` (not in its types) applies.
  const boss = new PgBoss({
    connectionString: DATABASE_URL,
    schema,
    max: PG_POOL,
    schedule: false,
    ...{ options: '-c synchronous_commit=on' },
  });
  boss.on('error', (error: Error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  const name = 'peers';
  await boss.createQueue(name);
  const consumers = Number(process.env.BENCH_PGBOSS_CONSUMERS ?? 2);
  const batchSize = Number(process.env.BENCH_PGBOSS_BATCH ?? 160);
  return {
    how: `insert; ${consumers} fetch loops (batchSize ${batchSize}) completing by ids; pool of ${PG_POOL}`,
    take: batchSize,
    consumers,
    serverCpu: postgresCpu,
    async post(batch) {
      await boss.insert(batch.map((data) => ({ name, data })));
    },
    consume(sink) {
      let stopped = false;
      const loop = async () => {
        while (!stopped) {
          const jobs = await boss.fetch<Body>(name, { batchSize });
          if (jobs.length === 0) {
            sink.empty();
            await sleep(1);
            continue;
          }
          for (const job of jobs) sink.delivered(job.id, job.data);
          await boss.complete(
            name,
            jobs.map((job) => job.id),
          );
          sink.acked(jobs.length);
        }
      };
      const loops = Array.from({ length: consumers }, loop);
      return {
        async stop() {
          stopped = true;
          await Promise.all(loops);
        },
      };
    },
    async close() {
      await boss.stop({ graceful: false });
      await dropSchema(schema);
    },
  };
}

// --- server CPU ------------------------------------------------------------------------------

export async function redisCpu(url: string): Promise<number> {
  const client = new Redis(url);
  try {
    const info = await client.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    client.disconnect();
  }
}

/** CPU of every process named postgres (backends, WAL writer, checkpointer...), from /proc. */
export async function postgresCpu(): Promise<number> {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks / 100;
}

// --- systems and pairs ------------------------------------------------------------------------

const SYSTEMS: Record<string, () => Promise<System>> = {
  'posthorn-redis': () => posthornRedis(REDIS_URL),
  bullmq: () => bullmq(REDIS_URL),
  'posthorn-redis-aof': () => posthornRedis(aofUrl()),
  'bullmq-aof': () => bullmq(aofUrl()),
  'posthorn-postgres': () => posthornPostgres(),
  'pg-boss': () => pgBoss(),
};

/** Posthorn's system and the peer it is compared with. */
const PAIRS: [string, string][] = [
  ['posthorn-redis', 'bullmq'],
  ['posthorn-redis-aof', 'bullmq-aof'],
  ['posthorn-postgres', 'pg-boss'],
];

const SERVER: Record<string, string> = {
  'posthorn-redis': 'shared Redis, no persistence',
  bullmq: 'shared Redis, no persistence',
  'posthorn-redis-aof': 'Redis started here, appendonly yes, appendfsync always',
  'bullmq-aof': 'Redis started here, appendonly yes, appendfsync always',
  'posthorn-postgres': 'PostgreSQL, synchronous_commit on',
  'pg-boss': 'PostgreSQL, synchronous_commit on',
};

function aofUrl(): string {
  const url = process.env.BENCH_AOF_REDIS_URL;
  if (!url) throw new Error('BENCH_AOF_REDIS_URL is not set (the parent process starts that Redis)');
  return url;
}

// --- phases -----------------------------------------------------------------------------------

interface Tally {
  seen: Set<string>;
  duplicates: number;
  acked: number;
  empty: number;
  /** Post-to-delivery latencies, ms. */
  delays: number[];
  waiters: (() => void)[];
}

function tally(): Tally {
  return { seen: new Set(), duplicates: 0, acked: 0, empty: 0, delays: [], waiters: [] };
}

function sinkOf(t: Tally, recordDelay: boolean): Sink {
  return {
    delivered(id, body) {
      if (t.seen.has(id)) t.duplicates++;
      else t.seen.add(id);
      if (recordDelay) t.delays.push(performance.now() - body.t);
    },
    acked(count) {
      t.acked += count;
      for (const wake of t.waiters.splice(0)) wake();
    },
    empty() {
      t.empty++;
    },
  };
}

type Phase = 'produce' | 'consume' | 'e2e';

/** Starts counting CPU; the function it returns gives microseconds per message of this process and of the server. */
async function meter(system: System): Promise<(messages: number) => Promise<PeerExtra>> {
  const client0 = process.cpuUsage();
  const server0 = await system.serverCpu();
  return async (messages) => {
    const client = process.cpuUsage(client0);
    const server = (await system.serverCpu()) - server0;
    const per = (us: number) => (messages > 0 ? round(us / messages) : 0);
    return { client_cpu_us_per_msg: per(client.user + client.system), server_cpu_us_per_msg: per(server * 1e6) };
  };
}

async function producePhase(target: string, system: System, roundNo: number): Promise<Figure & PeerExtra> {
  const latencies: number[] = [];
  let done = 0;
  const cpu = await meter(system);
  const start = performance.now();
  const until = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await system.post(bodies(BATCH));
        latencies.push(performance.now() - t0);
        done += BATCH;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const used = await cpu(done);
  return {
    bench: 'peers',
    target,
    op: 'produce',
    batch: BATCH,
    concurrency: PRODUCERS,
    msgs_per_s: Math.round(done / elapsed),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    ...used,
    rss_mb: rssMb(),
    note: `round ${roundNo}; ${SERVER[target]}; latency per post of ${BATCH}; ${system.how}`,
  };
}

async function consumePhase(target: string, system: System, roundNo: number): Promise<Figure & PeerExtra> {
  const total = target.includes('postgres') || target === 'pg-boss' ? Math.round(MESSAGES / 2) : MESSAGES;
  // Prefill with the system's own bulk post, untimed.
  const fillers = 8;
  let left = total;
  await Promise.all(
    Array.from({ length: fillers }, async () => {
      while (left > 0) {
        const n = Math.min(BATCH, left);
        left -= n;
        await system.post(bodies(n));
      }
    }),
  );
  const t = tally();
  const cpu = await meter(system);
  const start = performance.now();
  const consumers = system.consume(sinkOf(t, false));
  while (t.acked < total) {
    await new Promise<void>((resolve) => {
      t.waiters.push(resolve);
      setTimeout(resolve, 1000).unref();
    });
    if (performance.now() - start > 120_000) break;
  }
  const elapsed = (performance.now() - start) / 1000;
  const used = await cpu(t.acked);
  await consumers.stop();
  return {
    bench: 'peers',
    target,
    op: 'consume',
    batch: system.take,
    concurrency: system.consumers,
    msgs_per_s: Math.round(t.acked / elapsed),
    seconds: round(elapsed),
    messages: t.acked,
    duplicates: t.duplicates,
    ...used,
    rss_mb: rssMb(),
    note: `round ${roundNo}; ${SERVER[target]}; drained ${t.acked} of ${total} prefilled; ${system.how}`,
  };
}

async function e2ePhase(target: string, system: System, roundNo: number): Promise<Figure & PeerExtra> {
  const t = tally();
  let produced = 0;
  const cpu = await meter(system);
  const consumers = system.consume(sinkOf(t, true));
  const start = performance.now();
  const until = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: E2E_PRODUCERS }, async () => {
      while (performance.now() < until) {
        if (produced - t.acked >= BACKLOG) {
          await new Promise<void>((resolve) => {
            t.waiters.push(resolve);
            setTimeout(resolve, 50).unref();
          });
          continue;
        }
        produced += E2E_BATCH;
        await system.post(bodies(E2E_BATCH));
      }
    }),
  );
  const acked = t.acked;
  const elapsed = (performance.now() - start) / 1000;
  const used = await cpu(acked);
  await consumers.stop();
  return {
    bench: 'peers',
    target,
    op: 'e2e',
    batch: E2E_BATCH,
    concurrency: E2E_PRODUCERS + system.consumers,
    msgs_per_s: Math.round(acked / elapsed),
    p50_ms: percentile(t.delays, 50),
    p99_ms: percentile(t.delays, 99),
    duplicates: t.duplicates,
    ...used,
    rss_mb: rssMb(),
    note:
      `round ${roundNo}; ${SERVER[target]}; ${E2E_PRODUCERS} producers posting ${E2E_BATCH} at a time, ` +
      `backlog held under ${BACKLOG}; ${t.empty} empty claims/fetches; latency from post to delivery; ${system.how}`,
  };
}

interface PeerExtra {
  duplicates?: number;
  round?: number;
  client_cpu_us_per_msg?: number;
  server_cpu_us_per_msg?: number;
}

const PHASES: Record<Phase, (target: string, system: System, roundNo: number) => Promise<Figure>> = {
  produce: producePhase,
  consume: consumePhase,
  e2e: e2ePhase,
};

/** In a child process: one phase of one system over a fresh namespace. */
async function runOne(spec: string): Promise<void> {
  const [target, phase, roundText] = spec.split(':') as [string, Phase, string];
  const open = SYSTEMS[target];
  const run = PHASES[phase];
  if (!open || !run) throw new Error(`unknown system or phase in BENCH_PEER_ONE=${spec}`);
  const system = await open();
  try {
    const figure = await run(target, system, Number(roundText));
    emit({ ...figure, round: Number(roundText) } as Figure);
  } finally {
    await system.close();
  }
}

// --- the run ----------------------------------------------------------------------------------

interface Result {
  target: string;
  op: string;
  round: number;
  msgs_per_s: number;
  p50_ms?: number;
  p99_ms?: number;
  duplicates?: number;
}

function runChild(spec: string, env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...env, BENCH_PEER_ONE: spec },
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`${spec} failed (${code ?? signal})`));
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`${spec} printed no figure`));
      resolve(JSON.parse(line) as Result);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function main(): Promise<void> {
  const one = process.env.BENCH_PEER_ONE;
  if (one) {
    await runOne(one);
    return;
  }
  const wanted = process.env.BENCH_PEER_SYSTEMS?.split(',');
  const phases = (process.env.BENCH_PEER_PHASES?.split(',') ?? ['produce', 'consume', 'e2e']) as Phase[];
  const pairs = PAIRS.map(([a, b]) => [a, b].filter((s) => !wanted || wanted.includes(s))).filter((p) => p.length > 0);
  const needsAof = pairs.flat().some((s) => s.endsWith('-aof'));
  const aof = needsAof ? await startRedis(APPENDFSYNC_ALWAYS) : null;
  const env = { ...process.env, ...(aof ? { BENCH_AOF_REDIS_URL: aof.url } : {}) };
  const results: Result[] = [];
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      for (const phase of phases) {
        for (const pair of pairs) {
          // Alternate who goes first, so neither always meets a cold or a warm server.
          const order = r % 2 === 1 ? pair : [...pair].reverse();
          for (const target of order) results.push(await runChild(`${target}:${phase}:${r}`, env));
        }
      }
    }
  } finally {
    await aof?.stop();
  }
  for (const phase of phases) {
    for (const pair of pairs) {
      for (const target of pair) {
        const rates = results.filter((x) => x.target === target && x.op === phase).map((x) => x.msgs_per_s);
        if (rates.length === 0) continue;
        emit({
          bench: 'peers',
          target,
          op: `range:${phase}`,
          msgs_per_s: Math.round(median(rates)),
          note: `median of ${rates.length} rounds; min ${Math.min(...rates)}, max ${Math.max(...rates)}`,
        });
      }
      const [ours, peer] = pair;
      if (!ours || !peer) continue;
      const ratios: number[] = [];
      for (let r = 1; r <= ROUNDS; r++) {
        const a = results.find((x) => x.target === ours && x.op === phase && x.round === r);
        const b = results.find((x) => x.target === peer && x.op === phase && x.round === r);
        if (a && b && b.msgs_per_s > 0) ratios.push(a.msgs_per_s / b.msgs_per_s);
      }
      if (ratios.length === 0) continue;
      const ratio = {
        bench: 'peers',
        target: ours,
        op: `ratio:${phase}`,
        vs: peer,
        ratio: Math.round(median(ratios) * 100) / 100,
        ratio_min: Math.round(Math.min(...ratios) * 100) / 100,
        ratio_max: Math.round(Math.max(...ratios) * 100) / 100,
        note: `${ours} msgs/s over ${peer} msgs/s in the same round; median, min and max of ${ratios.length} rounds`,
      };
      emit(ratio as Figure);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
