/**
 * `npm run bench:notify`: webhook notifications from `posthorn serve` to a local receiver over
 * keep-alive connections. The server runs in a child process on the disk store (every message and
 * every spooled notification fsynced); this process posts messages and receives the webhooks.
 *
 *   fanout=1   one subscription: notifications delivered per second, producers as fast as answered
 *   fanout=10  ten subscriptions on the queue: messages per second whose notification reached all ten
 *   half       each again with producers paced at half the measured message rate: latency from the
 *              start of the post to the webhook's arrival (p50, p99)
 *
 * One JSON line per figure (bench/lib.ts). Server CPU time is read from /proc (Linux).
 *
 *   BENCH_SECONDS=5       seconds per phase
 *   BENCH_PRODUCERS=32    concurrent producers (each posts batches of BENCH_BATCH messages)
 *   BENCH_BATCH=10        messages per post
 *   BENCH_FANOUTS=1,10    subscriptions per queue, one run each
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { emit, percentile, round } from './lib.js';
import { cpuSeconds, posthornServe, processRssMb, startServing } from './serve-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 32);
const BATCH = Number(process.env.BENCH_BATCH ?? 10);
const FANOUTS = (process.env.BENCH_FANOUTS ?? '1,10').split(',').map(Number);
const HEADERS = {
  'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
  'x-project-id': 'bench',
  'content-type': 'application/json',
};

interface Server {
  child: ChildProcess;
  url: string;
  data: string;
}

async function startServer(): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), 'posthorn-bench-notify-'));
  const { child, url } = await startServing(posthornServe(['--port', '0', '--ws-port', '0', '--data', data]), {
    ...process.env,
    POSTHORN_LOG_LEVEL: 'info',
    UV_THREADPOOL_SIZE: '16',
  });
  return { child, url, data };
}

/**
 * The webhook receivers: one HTTP server per subscriber (each its own origin, as separate
 * subscribers are), answering 200 at once and noting when each notification arrived.
 */
interface Receiver {
  servers: HttpServer[];
  urls: string[];
  deliveries: number;
  /** Post-start to arrival, ms, of notifications sent in the current latency window. */
  latencies: number[];
  measuring: boolean;
}

async function startReceiver(count: number): Promise<Receiver> {
  const receiver: Receiver = { servers: [], urls: [], deliveries: 0, latencies: [], measuring: false };
  for (let i = 0; i < count; i++) {
    const server = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        receiver.deliveries++;
        if (receiver.measuring) {
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { body: { t: number } };
          receiver.latencies.push(performance.now() - doc.body.t);
        }
        response.writeHead(200, { 'content-length': '0' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    receiver.servers.push(server);
    receiver.urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
  }
  return receiver;
}

async function call(pool: Pool, method: 'PUT' | 'POST', path: string, body: unknown): Promise<number> {
  const r = await pool.request({ method, path, headers: HEADERS, body: JSON.stringify(body) });
  await r.body.dump();
  return r.statusCode;
}

/** Posts batches until `until`; paced (ms between posts of one producer) or as fast as answered. */
async function produce(pool: Pool, queue: string, until: number, pace: number | null, posted: { n: number }) {
  let next = performance.now();
  while (performance.now() < until) {
    if (pace !== null) {
      next += pace;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const t = performance.now();
    const body = JSON.stringify({ messages: Array.from({ length: BATCH }, (_, i) => ({ ttl: 300, body: { t, i } })) });
    const r = await pool.request({ method: 'POST', path: `/v2/queues/${queue}/messages`, headers: HEADERS, body });
    await r.body.dump();
    if (r.statusCode === 201) posted.n += BATCH;
  }
}

/** Waits until the receiver has every notification of `expected`, or `ms` passed; returns the drain time. */
async function drain(receiver: Receiver, expected: number, ms: number): Promise<number> {
  const t0 = performance.now();
  while (receiver.deliveries < expected && performance.now() - t0 < ms) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return (performance.now() - t0) / 1000;
}

async function run(fanout: number, server: Server, pool: Pool, receiver: Receiver): Promise<void> {
  const pid = server.child.pid as number;
  const queue = `notify-${fanout}`;
  await call(pool, 'PUT', `/v2/queues/${queue}`, {});
  for (let i = 0; i < fanout; i++) {
    const status = await call(pool, 'POST', `/v2/queues/${queue}/subscriptions`, {
      subscriber: receiver.urls[i],
      ttl: 86_400,
    });
    if (status !== 201) throw new Error(`subscribe answered ${status}`);
  }
  // Warm-up: code paths compiled, connections open.
  const warm = { n: 0 };
  const base0 = receiver.deliveries;
  await Promise.all(Array.from({ length: 4 }, () => produce(pool, queue, performance.now() + 1000, null, warm)));
  await drain(receiver, base0 + warm.n * fanout, 30_000);

  // Full speed.
  const posted = { n: 0 };
  const base = receiver.deliveries;
  const cpu0 = cpuSeconds(pid);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: PRODUCERS }, () => produce(pool, queue, t0 + SECONDS * 1000, null, posted)));
  const postSeconds = (performance.now() - t0) / 1000;
  const inWindow = receiver.deliveries - base;
  const drained = await drain(receiver, base + posted.n * fanout, 60_000);
  const total = (performance.now() - t0) / 1000;
  const delivered = receiver.deliveries - base;
  const cpu = cpuSeconds(pid) - cpu0;
  const own = process.cpuUsage(own0);
  const benchCpu = (own.user + own.system) / 1e6;
  emit({
    bench: 'notify',
    target: 'disk',
    op: `deliver:fanout=${fanout}`,
    batch: BATCH,
    concurrency: PRODUCERS,
    msgs_per_s: round(delivered / fanout / total),
    reqs_per_s: round(delivered / total),
    seconds: round(total),
    rss_mb: processRssMb(pid),
    note:
      `${posted.n} messages posted in ${round(postSeconds)} s (${round(posted.n / postSeconds)}/s), ` +
      `${delivered} webhooks delivered (${inWindow} while posting, the rest in ${round(drained)} s after); ` +
      `reqs_per_s = webhooks/s, msgs_per_s = messages/s that reached every subscriber; server CPU ${round(cpu)} s ` +
      `(${round((cpu * 1e6) / Math.max(1, delivered))} us per webhook); this process (producers and receiver) ${round(benchCpu)} s`,
  });

  // Half the measured message rate: latency from post to delivery.
  const rate = posted.n / total / 2;
  const pace = (1000 * PRODUCERS * BATCH) / Math.max(1, rate);
  const halfPosted = { n: 0 };
  receiver.latencies = [];
  receiver.measuring = true;
  const hbase = receiver.deliveries;
  const h0 = performance.now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, () => produce(pool, queue, h0 + SECONDS * 1000, pace, halfPosted)),
  );
  await drain(receiver, hbase + halfPosted.n * fanout, 60_000);
  receiver.measuring = false;
  const latencies = receiver.latencies;
  emit({
    bench: 'notify',
    target: 'disk',
    op: `half:fanout=${fanout}`,
    batch: BATCH,
    concurrency: PRODUCERS,
    msgs_per_s: round(halfPosted.n / SECONDS),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    rss_mb: processRssMb(pid),
    note: `${halfPosted.n} messages at half rate, ${latencies.length} webhooks timed from the start of the post to arrival`,
  });
}

async function main(): Promise<void> {
  const receiver = await startReceiver(Math.max(...FANOUTS));
  const server = await startServer();
  // Whatever ends this process (an error, a closed stdout), the server must not outlive it.
  process.on('exit', () => server.child.kill('SIGKILL'));
  const pool = new Pool(server.url, { connections: PRODUCERS, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    for (const fanout of FANOUTS) await run(fanout, server, pool, receiver);
  } finally {
    await pool.close();
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    for (const r of receiver.servers) {
      r.closeAllConnections();
      r.close();
    }
    rmSync(server.data, { recursive: true, force: true });
  }
}

await main();
