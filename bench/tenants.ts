/**
 * `npm run bench:tenants`: does one tenant's flood starve another? Tenant B runs a steady,
 * modest workload (post 10, claim them, delete each with its claim id) and its latency is
 * measured alone and while tenant A floods the same server with posts over many connections,
 * ignoring Retry-After: in BENCH_ROUNDS rounds of alone then flooded, so that both see the same
 * noise of a shared machine (its other load comes and goes over seconds), each figure pooled
 * over the rounds. The whole is done three times in one run, on a fresh server each time:
 * with `[fair_share]` on (limits B stays within and A's flood exceeds), on with refusals answered
 * at once (`refusal_delay_ms = 0`: what holding them buys), and off (what the buckets buy).
 * Target: B's p99 under the flood at most 2x its p99 alone, fair share on.
 *
 * Three processes: the server (`posthorn serve`, disk store), this one (tenant B, the measure)
 * and the flooder (bench/tenants-flood.ts), so neither load generator's CPU is the server's and
 * A's answers do not delay B's in this process's event loop. On a 2-core machine the three still
 * share two cores: the flooder's own CPU takes from the server's, which is part of what a
 * flood costs a server on a small machine.
 *
 *   BENCH_SECONDS=10              seconds B is measured alone, and as many flooded
 *   BENCH_ROUNDS=5                rounds those seconds are split into
 *   BENCH_FLOOD_CONNECTIONS=64    A's concurrent connections
 *   BENCH_B_WORKERS=2             B's concurrent workers
 *   BENCH_B_CYCLES=5              post-claim-delete cycles per second of each B worker (12 requests each)
 *   BENCH_FAIR=on,instant,off     the modes to run, in turn (instant: on, refusal_delay_ms = 0)
 *   BENCH_REQUESTS_PER_SECOND=200, BENCH_MESSAGES_PER_SECOND=1000
 *                                 the per-project limits when fair share is on (bursts: one second's)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { emit, machine, percentile, round } from './lib.js';
import { cpuSeconds, posthornServe, processRssMb, ROOT, startServing } from './serve-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLOOD_CONNECTIONS = Number(process.env.BENCH_FLOOD_CONNECTIONS ?? 64);
const B_WORKERS = Number(process.env.BENCH_B_WORKERS ?? 2);
const B_CYCLES = Number(process.env.BENCH_B_CYCLES ?? 5);
const MODES = (process.env.BENCH_FAIR ?? 'on,instant,off').split(',');
const REQUESTS_PER_SECOND = Number(process.env.BENCH_REQUESTS_PER_SECOND ?? 200);
const MESSAGES_PER_SECOND = Number(process.env.BENCH_MESSAGES_PER_SECOND ?? 1000);
/** Time the flood gets to build up before B is measured under it (its refusals are held 1 s). */
const FLOOD_RAMP_MS = 1500;
const BATCH = 10;
const HEADERS = {
  'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
  'x-project-id': 'tenant-b',
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
}

type Mode = 'on' | 'instant' | 'off';

async function startServer(mode: Mode): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), 'posthorn-bench-tenants-'));
  const { child, url } = await startServing(posthornServe(['--port', '0', '--data', data]), {
    ...process.env,
    POSTHORN_STORE: 'disk',
    POSTHORN_LOG_LEVEL: 'info',
    ...(mode !== 'off'
      ? {
          POSTHORN_FAIR_SHARE_REQUESTS_PER_SECOND: String(REQUESTS_PER_SECOND),
          POSTHORN_FAIR_SHARE_MESSAGES_PER_SECOND: String(MESSAGES_PER_SECOND),
          POSTHORN_FAIR_SHARE_REFUSAL_DELAY_MS: mode === 'instant' ? '0' : '1000',
        }
      : {}),
  });
  return { child, url, data };
}

/** What B saw: every request's latency (ms) and any answer that was not the expected one. */
interface Sample {
  latencies: number[];
  posts: number[];
  errors: number;
  requests: number;
}

async function timed(s: Sample, fn: () => Promise<number>, expected: number, post = false): Promise<boolean> {
  const t0 = performance.now();
  const status = await fn();
  const ms = performance.now() - t0;
  s.latencies.push(ms);
  if (post) s.posts.push(ms);
  s.requests++;
  if (status !== expected) s.errors++;
  return status === expected;
}

/** One B worker: paced cycles of post 10, claim 10, delete each (in parallel) until `until`. */
async function tenantB(pool: Pool, s: Sample, until: number, queue: string): Promise<void> {
  const pace = 1000 / B_CYCLES;
  let next = performance.now();
  while (performance.now() < until) {
    next += pace;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await timed(
      s,
      async () => {
        const r = await pool.request({
          method: 'POST',
          path: `/v2/queues/${queue}/messages`,
          headers: HEADERS,
          body: POST_BODY,
        });
        await r.body.dump();
        return r.statusCode;
      },
      201,
      true,
    );
    let hrefs: string[] = [];
    const claimed = await timed(
      s,
      async () => {
        const r = await pool.request({
          method: 'POST',
          path: `/v2/queues/${queue}/claims?limit=${BATCH}`,
          headers: HEADERS,
          body: CLAIM_BODY,
        });
        if (r.statusCode === 201) {
          hrefs = ((await r.body.json()) as { messages: { href: string }[] }).messages.map((m) => m.href);
        } else await r.body.dump();
        return r.statusCode;
      },
      201,
    );
    if (!claimed) continue;
    await Promise.all(
      hrefs.map((href) =>
        timed(
          s,
          async () => {
            const r = await pool.request({ method: 'DELETE', path: href, headers: HEADERS });
            await r.body.dump();
            return r.statusCode;
          },
          204,
        ),
      ),
    );
  }
}

function emptySample(): Sample {
  return { latencies: [], posts: [], errors: 0, requests: 0 };
}

async function measureB(pool: Pool, milliseconds: number): Promise<Sample> {
  const s = emptySample();
  const until = performance.now() + milliseconds;
  await Promise.all(Array.from({ length: B_WORKERS }, (_, i) => tenantB(pool, s, until, `tenant-b-${i}`)));
  return s;
}

interface FloodResult {
  accepted: number;
  refused: number;
  other: number;
  retry_after_s: number[];
  seconds: number;
}

interface Flooder {
  /** Sends `go` or `stop` and waits for the flooder to say it is done. */
  send(command: 'go' | 'stop'): Promise<void>;
  /** Ends it; what it was answered while flooding. */
  exit(): Promise<FloodResult>;
}

/** Starts the flooder process (bench/tenants-flood.ts) and resolves once it is ready. */
async function flooder(url: string): Promise<Flooder> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/tenants-flood.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      FLOOD_URL: url,
      FLOOD_PROJECT: 'tenant-a',
      FLOOD_CONNECTIONS: String(FLOOD_CONNECTIONS),
      FLOOD_BATCH: String(BATCH),
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let partial = '';
  let exited: number | null = null;
  let wake: () => void = () => {};
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    wake();
  });
  child.once('exit', (code) => {
    exited = code ?? -1;
    wake();
  });
  const next = async (): Promise<string> => {
    while (lines.length === 0) {
      if (exited !== null) throw new Error(`the flooder exited with ${exited}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    return lines.shift() as string;
  };
  if ((await next()) !== 'ready') throw new Error('the flooder did not say ready');
  return {
    async send(command) {
      child.stdin?.write(`${command}\n`);
      const answer = await next();
      if (answer !== (command === 'go' ? 'going' : 'stopped')) throw new Error(`the flooder answered ${answer}`);
    },
    async exit() {
      child.stdin?.end('exit\n');
      return JSON.parse(await next()) as FloodResult;
    },
  };
}

/** Adds a round's sample to the pooled one. */
function addSample(into: Sample, s: Sample): void {
  into.latencies.push(...s.latencies);
  into.posts.push(...s.posts);
  into.errors += s.errors;
  into.requests += s.requests;
}

const TARGETS: Record<Mode, string> = {
  on: 'disk:fair-share',
  instant: 'disk:fair-share-instant-429',
  off: 'disk:no-fair-share',
};

async function run(mode: Mode): Promise<void> {
  const server = await startServer(mode);
  const pid = server.child.pid as number;
  const pool = new Pool(server.url, { connections: 16, pipelining: 1, keepAliveTimeout: 60_000 });
  const target = TARGETS[mode];
  const common = { bench: 'tenants', target, concurrency: B_WORKERS };
  try {
    await measureB(pool, 1000); // warm-up: JIT, the queues made

    const flood = await flooder(server.url);
    const alone = emptySample();
    const flooded = emptySample();
    let aloneCpu = 0;
    let floodedCpu = 0;
    const roundMs = (SECONDS * 1000) / ROUNDS;
    for (let i = 0; i < ROUNDS; i++) {
      let cpu0 = cpuSeconds(pid);
      addSample(alone, await measureB(pool, roundMs));
      aloneCpu += cpuSeconds(pid) - cpu0;
      await flood.send('go');
      await new Promise((resolve) => setTimeout(resolve, FLOOD_RAMP_MS));
      cpu0 = cpuSeconds(pid);
      addSample(flooded, await measureB(pool, roundMs));
      floodedCpu += cpuSeconds(pid) - cpu0;
      await flood.send('stop');
    }
    const a = await flood.exit();

    const p99Alone = percentile(alone.latencies, 99);
    const p99Flooded = percentile(flooded.latencies, 99);
    for (const [op, s, cpu] of [
      ['b-alone', alone, aloneCpu],
      ['b-flooded', flooded, floodedCpu],
    ] as const) {
      emit({
        ...common,
        op,
        reqs_per_s: round(s.requests / SECONDS),
        p50_ms: percentile(s.latencies, 50),
        p99_ms: percentile(s.latencies, 99),
        max_ms: round(Math.max(...s.latencies)),
        rss_mb: processRssMb(pid),
        note: `B: ${s.requests} requests, ${s.errors} not answered as expected; post p99 ${percentile(s.posts, 99)} ms; server CPU ${round(cpu)} s of ${SECONDS} s (${ROUNDS} rounds)`,
      });
    }
    emit({
      ...common,
      op: 'a-flood',
      concurrency: FLOOD_CONNECTIONS,
      batch: BATCH,
      reqs_per_s: round((a.accepted + a.refused + a.other) / a.seconds),
      msgs_per_s: round((a.accepted * BATCH) / a.seconds),
      count: a.refused,
      note: `A: ${a.accepted} posts accepted, ${a.refused} refused 429 (Retry-After seen: ${[...new Set(a.retry_after_s)].join(', ') || 'none'} s), ${a.other} other, over ${round(a.seconds)} s of flood in ${ROUNDS} rounds`,
    });
    emit({
      ...common,
      op: 'b-p99-ratio',
      ratio: round(p99Flooded / Math.max(p99Alone, 0.01)),
      note: `B's p99 flooded / alone: ${p99Flooded} / ${p99Alone} ms; target at most 2 with fair share on`,
    });
  } finally {
    await pool.close();
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    rmSync(server.data, { recursive: true, force: true });
  }
}

process.stderr.write(`# bench:tenants on ${machine()}\n`);
for (const mode of MODES) {
  if (mode !== 'on' && mode !== 'instant' && mode !== 'off') {
    throw new Error(`BENCH_FAIR: on, instant or off, not ${mode}`);
  }
  await run(mode);
}
