/**
 * `npm run bench:http`: `posthorn serve` under load over keep-alive HTTP, the issue's workload.
 * The server runs in a child process; this process is the load generator. Three phases:
 *
 *   produce  producers POST batches of 10 messages of 256 bytes, as fast as answered
 *   consume  consumers claim 10 (POST .../claims?limit=10) and DELETE each with its claim id
 *            (the ten deletes of a claim in parallel)
 *   consume-bulk
 *            consumers claim 10 and finish them as the client's Worker does: one fenced bulk
 *            delete, DELETE .../messages?ids=<the ten>&claim_ids=<the claim>&fenced=true
 *   half     producers and per-message consumers at once, each paced at half its measured
 *            rate: the latency at half load
 *
 * One JSON line per figure (bench/lib.ts): msgs/s, requests/s and p50/p99 per request type, the
 * server's RSS, and per workload (phase) the server's CPU time per request, cpu_us_per_req
 * (from /proc, so Linux only).
 *
 *   BENCH_SECONDS=5       seconds per phase
 *   BENCH_PRODUCERS=16    concurrent producers
 *   BENCH_CONSUMERS=16    concurrent consumers
 *   BENCH_QUEUES=8        queues the load is spread over
 *   BENCH_CONNECTIONS=32  keep-alive connections to the server
 *   BENCH_STORE=disk,redis,postgres
 *                         the stores to run the phases on, one server each, in turn: disk (the
 *                         server's default), memory, or a pool every queue goes to:
 *                         redis (the shared Redis) or postgres (the shared PostgreSQL), each in a
 *                         namespace of its own removed after (bench/pools.ts: REDIS_URL,
 *                         DATABASE_URL); the server's CPU figure then leaves out the pool's server;
 *                         or floor: a bare node:http server with canned answers and no store
 *                         (bench/http-floor.ts), what the round trips alone cost on this machine
 *   BENCH_ENCRYPT=plain,encrypted
 *                         run each store with plain queues, queues with _enable_encrypt_messages
 *                         (the server given a fresh [encryption] key; target "<store>:encrypted"),
 *                         or both in turn, so their ratio is from one run
 *   BENCH_METRICS=on,off  run each store with GET /metrics on (the default: counting in memory)
 *                         and off (`metrics = false`) in turn, targets "<store>:metrics-on" and
 *                         "<store>:metrics-off", so what metrics cost is from one run (repeat
 *                         the list, e.g. on,off,on,off, to see the noise); or paired: both servers
 *                         at once, each phase's load split evenly between them, so that whatever
 *                         else runs on the machine slows both alike (targets as above; each
 *                         server gets half the producers and consumers)
 *   BENCH_VERSUS=<dir>    paired as above, but this checkout's server against the one of another
 *                         checkout at <dir> (its own node_modules; targets "<store>:here" and
 *                         "<store>:<dir's name>"): what a change buys, measured on a busy machine
 *   BENCH_ROUNDS=1        with BENCH_VERSUS, how many paired runs in turn
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Pool } from 'undici';
import { emit, percentile, round } from './lib.js';
import { type BenchPool, benchPool } from './pools.js';
import { cpuSeconds, posthornServe, processRssMb, startServing } from './serve-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 16);
const CONSUMERS = Number(process.env.BENCH_CONSUMERS ?? 16);
const QUEUES = Number(process.env.BENCH_QUEUES ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STORES = (process.env.BENCH_STORE ?? 'disk,redis,postgres').split(',');
const MODES = (process.env.BENCH_ENCRYPT ?? 'plain').split(',');
const METRICS = process.env.BENCH_METRICS === undefined ? null : process.env.BENCH_METRICS.split(',');
const VERSUS = process.env.BENCH_VERSUS ?? null;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const BATCH = 10;
const HEADERS = {
  'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
  'x-project-id': 'bench',
  'content-type': 'application/json',
};
const POST_BODY = JSON.stringify({
  messages: Array.from({ length: BATCH }, (_, i) => ({ ttl: 3600, body: `${i}`.padEnd(256, 'x') })),
});
const CLAIM_BODY = '{"ttl": 60, "grace": 60}';

interface Server {
  child: ChildProcess;
  url: string;
  data: string;
  /** The store it runs on (the figures' target). */
  store: string;
  /** The Redis or PostgreSQL namespace the queues went to, when the store is a pool. */
  pool: BenchPool | null;
}

/** Another checkout to run beside this one (BENCH_VERSUS), and what its figures are called. */
interface Checkout {
  dir: string;
  label: string;
}

async function startServer(
  store: string,
  encrypted: boolean,
  metrics: string | null,
  checkout: Checkout | null = null,
): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), 'posthorn-bench-http-'));
  const args = posthornServe(['--port', '0', '--data', data]);
  let pool: BenchPool | null = null;
  if (store === 'redis' || store === 'postgres') {
    // Pooling on, with the pool as the default pool: every queue goes there.
    pool = benchPool(store);
    const config = join(data, 'posthorn.toml');
    writeFileSync(
      config,
      `[pooling]\ndefault_pool = "bench"\n[[pooling.pools]]\nname = "bench"\nuri = ${JSON.stringify(pool.uri)}\nweight = 100\n`,
    );
    args.push('--config', config);
  }
  if (store === 'floor') args.splice(0, args.length, '--import', 'tsx', 'bench/http-floor.ts');
  const { child, url } = await startServing(
    args,
    {
      ...process.env,
      POSTHORN_STORE: pool ? 'disk' : store,
      POSTHORN_LOG_LEVEL: 'info',
      ...(encrypted ? { POSTHORN_ENCRYPTION_KEY: randomBytes(32).toString('base64') } : {}),
      POSTHORN_METRICS: metrics === 'off' ? 'false' : 'true',
    },
    checkout?.dir,
  );
  const target =
    `${store}${encrypted ? ':encrypted' : ''}${metrics === null ? '' : `:metrics-${metrics}`}` +
    (checkout ? `:${checkout.label}` : '');
  return { child, url, data, store: target, pool };
}

type RequestKind = 'post' | 'claim' | 'delete' | 'bulk-delete';
const REQUEST_KINDS: readonly RequestKind[] = ['post', 'claim', 'delete', 'bulk-delete'];

interface Counters {
  latencies: Record<RequestKind, number[]>;
  produced: number;
  consumed: number;
  /** Claims that found nothing (204): a consumer workload that drained its queues says so. */
  empty: number;
  errors: number;
}

function counters(): Counters {
  return {
    latencies: { post: [], claim: [], delete: [], 'bulk-delete': [] },
    produced: 0,
    consumed: 0,
    empty: 0,
    errors: 0,
  };
}

async function timed(c: Counters, kind: RequestKind, fn: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const status = await fn();
  c.latencies[kind].push(performance.now() - t0);
  return status;
}

async function produce(pool: Pool, c: Counters, until: number, queue: string, pace: number | null): Promise<void> {
  let next = performance.now();
  while (performance.now() < until) {
    if (pace !== null) {
      next += pace;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const status = await timed(c, 'post', async () => {
      const r = await pool.request({
        method: 'POST',
        path: `/v2/queues/${queue}/messages`,
        headers: HEADERS,
        body: POST_BODY,
      });
      await r.body.dump();
      return r.statusCode;
    });
    if (status === 201) c.produced += BATCH;
    else c.errors++;
  }
}

/** How a consumer finishes a claim's messages: a DELETE each, or one fenced bulk delete. */
type Finish = 'each' | 'bulk';

async function consume(
  pool: Pool,
  c: Counters,
  until: number,
  queue: string,
  pace: number | null,
  finish: Finish = 'each',
): Promise<void> {
  let next = performance.now();
  while (performance.now() < until) {
    if (pace !== null) {
      next += pace;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    let hrefs: string[] = [];
    let claimId = '';
    const status = await timed(c, 'claim', async () => {
      const r = await pool.request({
        method: 'POST',
        path: `/v2/queues/${queue}/claims?limit=${BATCH}`,
        headers: HEADERS,
        body: CLAIM_BODY,
      });
      if (r.statusCode === 201) {
        hrefs = ((await r.body.json()) as { messages: { href: string }[] }).messages.map((m) => m.href);
        claimId = String(r.headers.location).split('/').pop() ?? '';
      } else await r.body.dump();
      return r.statusCode;
    });
    if (status === 204) {
      c.empty++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (status !== 201) {
      c.errors++;
      continue;
    }
    if (finish === 'bulk') {
      const ids = hrefs.map((href) => href.slice(href.lastIndexOf('/') + 1, href.indexOf('?')));
      let deleted = 0;
      const answered = await timed(c, 'bulk-delete', async () => {
        const r = await pool.request({
          method: 'DELETE',
          path: `/v2/queues/${queue}/messages?ids=${ids.join(',')}&claim_ids=${claimId}&fenced=true`,
          headers: HEADERS,
        });
        if (r.statusCode === 200) deleted = ((await r.body.json()) as { deleted: string[] }).deleted.length;
        else await r.body.dump();
        return r.statusCode;
      });
      c.consumed += deleted;
      if (answered !== 200 || deleted !== ids.length) c.errors++;
      continue;
    }
    // The ten deletes go out together, as a consumer acknowledging a batch would send them.
    await Promise.all(
      hrefs.map(async (href) => {
        const deleted = await timed(c, 'delete', async () => {
          const r = await pool.request({ method: 'DELETE', path: href, headers: HEADERS });
          await r.body.dump();
          return r.statusCode;
        });
        if (deleted === 204) c.consumed++;
        else c.errors++;
      }),
    );
  }
}

/**
 * Posts `messages` again, unmeasured, spread over the queues as the producers spread them: the
 * bulk consumer is given what the produce phase posted once more, so that it finds work ahead
 * of it as the per-message consumer did (empty claims in its note say when it did not).
 */
async function refill(pool: Pool, queue: (i: number) => string, messages: number): Promise<void> {
  let left = Math.ceil(messages / BATCH);
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, i) => {
      while (left > 0) {
        left--;
        const r = await pool.request({
          method: 'POST',
          path: `/v2/queues/${queue(i)}/messages`,
          headers: HEADERS,
          body: POST_BODY,
        });
        await r.body.dump();
        if (r.statusCode !== 201) throw new Error(`refill: ${r.statusCode}`);
      }
    }),
  );
}

function report(phase: string, c: Counters, seconds: number, cpu: number, server: Server, concurrency: number): void {
  const pid = server.child.pid as number;
  const requests = REQUEST_KINDS.reduce((sum, kind) => sum + c.latencies[kind].length, 0);
  const common = { bench: 'http', target: server.store, rss_mb: processRssMb(pid) };
  for (const kind of REQUEST_KINDS) {
    const lat = c.latencies[kind];
    if (lat.length === 0) continue;
    emit({
      ...common,
      op: `${phase}:${kind}`,
      ...(kind === 'post' ? { batch: BATCH, msgs_per_s: round(c.produced / seconds) } : {}),
      ...(kind === 'claim' || kind === 'bulk-delete' ? { batch: BATCH } : {}),
      concurrency,
      reqs_per_s: round(lat.length / seconds),
      p50_ms: percentile(lat, 50),
      p99_ms: percentile(lat, 99),
    });
  }
  emit({
    ...common,
    op: phase,
    concurrency,
    msgs_per_s: round((phase === 'produce' ? c.produced : c.consumed) / seconds),
    reqs_per_s: round(requests / seconds),
    seconds: round(seconds),
    cpu_us_per_req: requests > 0 ? round((cpu * 1e6) / requests) : 0,
    note: `produced ${c.produced}, consumed ${c.consumed}, empty claims ${c.empty}, errors ${c.errors}; server CPU ${round(cpu)} s`,
  });
}

async function phase(
  name: string,
  server: Server,
  work: (c: Counters, until: number) => Promise<unknown>[],
  concurrency: number,
): Promise<Counters> {
  const [c] = await phases(name, [{ server, work }], concurrency);
  return c as Counters;
}

/** One phase against several servers at once, each with its own load; a figure line per server. */
async function phases(
  name: string,
  runs: { server: Server; work: (c: Counters, until: number) => Promise<unknown>[] }[],
  concurrency: number,
): Promise<Counters[]> {
  const all = runs.map(({ server }) => ({ pid: server.child.pid as number, c: counters() }));
  const cpu0 = all.map(({ pid }) => cpuSeconds(pid));
  const t0 = performance.now();
  await Promise.all(runs.flatMap(({ work }, i) => work((all[i] as { c: Counters }).c, t0 + SECONDS * 1000)));
  const seconds = (performance.now() - t0) / 1000;
  runs.forEach(({ server }, i) => {
    const { pid, c } = all[i] as { pid: number; c: Counters };
    report(name, c, seconds, cpuSeconds(pid) - (cpu0[i] as number), server, concurrency);
  });
  return all.map(({ c }) => c);
}

async function run(store: string, encrypted: boolean, metrics: string | null): Promise<void> {
  const server = await startServer(store, encrypted, metrics);
  const pool = new Pool(server.url, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 60_000 });
  const queue = (i: number) => `bench-${i % QUEUES}`;
  try {
    for (let i = 0; i < QUEUES && encrypted; i++) {
      const r = await pool.request({
        method: 'PUT',
        path: `/v2/queues/${queue(i)}`,
        headers: HEADERS,
        body: '{"_enable_encrypt_messages": true}',
      });
      await r.body.dump();
      if (r.statusCode !== 201) throw new Error(`could not create encrypted queue ${queue(i)}: ${r.statusCode}`);
    }
    // Warm up the server's code paths (JIT) before measuring.
    const warm = counters();
    await Promise.all(
      Array.from({ length: 4 }, (_, i) => produce(pool, warm, performance.now() + 1000, queue(i), null)),
    );

    const produced = await phase(
      'produce',
      server,
      (c, until) => Array.from({ length: PRODUCERS }, (_, i) => produce(pool, c, until, queue(i), null)),
      PRODUCERS,
    );
    const consumed = await phase(
      'consume',
      server,
      (c, until) => Array.from({ length: CONSUMERS }, (_, i) => consume(pool, c, until, queue(i), null)),
      CONSUMERS,
    );
    await refill(pool, queue, produced.produced);
    await phase(
      'consume-bulk',
      server,
      (c, until) => Array.from({ length: CONSUMERS }, (_, i) => consume(pool, c, until, queue(i), null, 'bulk')),
      CONSUMERS,
    );
    // Half of each measured rate, spread over the producers and the consumers, both at once.
    const postsPerSecond = produced.produced / BATCH / SECONDS / 2;
    const pace = (1000 * PRODUCERS) / Math.max(1, postsPerSecond);
    const claimsPerSecond = consumed.consumed / BATCH / SECONDS / 2;
    const consumePace = (1000 * CONSUMERS) / Math.max(1, claimsPerSecond);
    await phase(
      'half',
      server,
      (c, until) => [
        ...Array.from({ length: PRODUCERS }, (_, i) => produce(pool, c, until, queue(i), pace)),
        ...Array.from({ length: CONSUMERS }, (_, i) => consume(pool, c, until, queue(i), consumePace)),
      ],
      PRODUCERS + CONSUMERS,
    );
  } finally {
    await pool.close();
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    rmSync(server.data, { recursive: true, force: true });
    await server.pool?.dispose();
  }
}

async function pairedByMetrics(store: string): Promise<Server[]> {
  // BENCH_PAIR=off,off (or on,on) runs the same server twice: what the pairing itself leans, if anything.
  const [first = 'off', second = 'on'] = (process.env.BENCH_PAIR ?? 'off,on').split(',');
  return [await startServer(store, false, first), await startServer(store, false, second)];
}

/**
 * Two servers of the same store at once (metrics on and off, or this checkout and BENCH_VERSUS's),
 * each phase's load split evenly, so that the machine's other work slows both alike and their
 * ratio holds on a busy machine.
 */
async function runPaired(store: string, versus: string | null): Promise<void> {
  const servers = versus
    ? [
        await startServer(store, false, null, { dir: process.cwd(), label: 'here' }),
        await startServer(store, false, null, { dir: versus, label: basename(versus) }),
      ]
    : await pairedByMetrics(store);
  const pools = servers.map(
    (server) => new Pool(server.url, { connections: CONNECTIONS / 2, pipelining: 1, keepAliveTimeout: 60_000 }),
  );
  const queue = (i: number) => `bench-${i % QUEUES}`;
  const producers = PRODUCERS / 2;
  const consumers = CONSUMERS / 2;
  try {
    const warm = counters();
    await Promise.all(
      pools.flatMap((pool) =>
        Array.from({ length: 4 }, (_, i) => produce(pool, warm, performance.now() + 1000, queue(i), null)),
      ),
    );
    const each = (make: (pool: Pool) => (c: Counters, until: number) => Promise<unknown>[]) =>
      servers.map((server, i) => ({ server, work: make(pools[i] as Pool) }));
    const produced = await phases(
      'produce',
      each(
        (pool) => (c, until) => Array.from({ length: producers }, (_, i) => produce(pool, c, until, queue(i), null)),
      ),
      producers,
    );
    const consumed = await phases(
      'consume',
      each(
        (pool) => (c, until) => Array.from({ length: consumers }, (_, i) => consume(pool, c, until, queue(i), null)),
      ),
      consumers,
    );
    await Promise.all(pools.map((pool, i) => refill(pool, queue, (produced[i] as Counters).produced)));
    await phases(
      'consume-bulk',
      each(
        (pool) => (c, until) =>
          Array.from({ length: consumers }, (_, i) => consume(pool, c, until, queue(i), null, 'bulk')),
      ),
      consumers,
    );
    // Half of the slower server's rates, the same pace for both.
    const postsPerSecond = Math.min(...produced.map((c) => c.produced)) / BATCH / SECONDS / 2;
    const pace = (1000 * producers) / Math.max(1, postsPerSecond);
    const claimsPerSecond = Math.min(...consumed.map((c) => c.consumed)) / BATCH / SECONDS / 2;
    const consumePace = (1000 * consumers) / Math.max(1, claimsPerSecond);
    await phases(
      'half',
      each((pool) => (c, until) => [
        ...Array.from({ length: producers }, (_, i) => produce(pool, c, until, queue(i), pace)),
        ...Array.from({ length: consumers }, (_, i) => consume(pool, c, until, queue(i), consumePace)),
      ]),
      producers + consumers,
    );
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      rmSync(server.data, { recursive: true, force: true });
      await server.pool?.dispose();
    }
  }
}

for (const store of STORES) {
  if (VERSUS !== null) {
    for (let round = 0; round < ROUNDS; round++) await runPaired(store, VERSUS);
    continue;
  }
  if (METRICS?.includes('paired')) {
    for (const _ of METRICS) await runPaired(store, null);
    continue;
  }
  for (const mode of MODES) {
    if (mode !== 'plain' && mode !== 'encrypted') throw new Error(`BENCH_ENCRYPT: plain or encrypted, not ${mode}`);
    for (const metrics of METRICS ?? [null]) {
      if (metrics !== null && metrics !== 'on' && metrics !== 'off') {
        throw new Error(`BENCH_METRICS: on or off, not ${metrics}`);
      }
      await run(store, mode === 'encrypted', metrics);
    }
  }
}
