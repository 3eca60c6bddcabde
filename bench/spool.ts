/**
 * `npm run bench:spool`: the Multispool's enqueue and checkout+remove throughput with 1, 2 and 4
 * processes sharing one spool folder, and the delivery Spool's add and delivery rates to a no-op
 * delivery function. Every write is fsynced (files and folders). One JSON line per figure.
 *
 *   BENCH_SECONDS=3             seconds per timed Multispool workload
 *   BENCH_SPOOL_CONCURRENCY=32  operations in flight per process
 *   BENCH_SPOOL_PREFILL=20000   entries queued before the checkout+remove runs
 *   BENCH_SPOOL_MESSAGES=5000   messages for the Spool figures
 *
 * First a floor: new 1 KiB files made durable (open, write, fdatasync, close) per second by one
 * process with as many in flight, nothing else — what this disk allows. A Multispool entry is two
 * such files (metadata and data) plus renames and folder fsyncs, so it cannot go faster than half
 * the floor.
 *
 * The Multispool workers are forked with UV_THREADPOOL_SIZE=16, so concurrent fsyncs can share the
 * disk's flushes (libuv's default pool of 4 threads caps them at 4 in flight); the Spool figures run
 * in this process, with whatever UV_THREADPOOL_SIZE it was started with.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonMetadata, Multispool, type Spoolable, silentLog, textData } from '../src/multispool/index.js';
import { type DeliveryReport, Spool } from '../src/spool/index.js';
import { emit, percentile, round, rssMb } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_SPOOL_CONCURRENCY ?? 32);
const PREFILL = Number(process.env.BENCH_SPOOL_PREFILL ?? 20_000);
const MESSAGES = Number(process.env.BENCH_SPOOL_MESSAGES ?? 5_000);
const PROCESSES = [1, 2, 4];
const PAYLOAD = 'x'.repeat(1024);

interface Job {
  kind: string;
  n: number;
}

const jobs: Spoolable<Job, string, 'todo'> = {
  queues: ['todo'],
  metadata: jsonMetadata<Job>({ version: 1, read: { 1: (v) => v as Job } }),
  data: textData,
};

interface WorkerResult {
  done: number;
  seconds: number;
  latencies: number[];
}

/** In a worker process: enqueue (until time or `limit`) or check out and remove (until time or empty). */
async function work(op: string, dir: string, seconds: number, limit: number): Promise<WorkerResult> {
  const spool = op === 'durable-file' ? null : await Multispool.load(dir, jobs, { log: silentLog });
  const data = Buffer.from(PAYLOAD);
  const latencies: number[] = [];
  let done = 0;
  let claimed = 0;
  const start = performance.now();
  const reader = spool?.reader('todo');
  const loop = async () => {
    while (performance.now() - start < seconds * 1000) {
      const t0 = performance.now();
      if (op === 'durable-file') {
        const file = await open(join(dir, `f${claimed++}`), 'wx');
        await file.write(data);
        await file.datasync();
        await file.close();
      } else if (op === 'enqueue' && spool) {
        if (claimed++ >= limit) return;
        await spool.enqueue('todo', { kind: 'bench', n: done }, PAYLOAD);
      } else if (reader) {
        const taken = await reader.dequeueAvailable();
        if (!taken) return;
        await taken.remove();
      }
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  reader?.close();
  return { done, seconds: (performance.now() - start) / 1000, latencies };
}

function runWorkers(
  op: string,
  dir: string,
  processes: number,
  seconds: number,
  limit: number,
): Promise<WorkerResult[]> {
  const self = new URL(import.meta.url).pathname;
  return Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<WorkerResult>((resolve, reject) => {
          const child = fork(self, ['worker', op, dir, String(seconds), String(limit)], {
            execArgv: ['--import', 'tsx'],
            env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
          });
          child.once('message', (m) => resolve(m as WorkerResult));
          child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited ${code}`))));
        }),
    ),
  );
}

function report(op: string, processes: number, results: WorkerResult[], note: string, target = 'multispool'): void {
  const done = results.reduce((n, r) => n + r.done, 0);
  const seconds = Math.max(...results.map((r) => r.seconds));
  const latencies = results.flatMap((r) => r.latencies);
  emit({
    bench: 'spool',
    target,
    op,
    concurrency: processes * CONCURRENCY,
    msgs_per_s: round(done / seconds),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    note: `${processes} process${processes > 1 ? 'es' : ''} x ${CONCURRENCY} in flight, ${done} entries, fsync on, 1 KiB data; ${note}`,
  });
}

async function multispoolFigures(): Promise<void> {
  const floorDir = mkdtempSync(join(tmpdir(), 'posthorn-bench-floor-'));
  try {
    const floor = await runWorkers('durable-file', floorDir, 1, SECONDS, 0);
    report('durable-file', 1, floor, 'new files made durable (open, write, fdatasync, close), no spool', 'floor');
  } finally {
    rmSync(floorDir, { recursive: true, force: true });
  }
  for (const processes of PROCESSES) {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-bench-multispool-'));
    try {
      await Multispool.create(dir, jobs, { log: silentLog });
      report(
        'enqueue',
        processes,
        await runWorkers('enqueue', dir, processes, SECONDS, Number.MAX_SAFE_INTEGER),
        'enqueue',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const processes of PROCESSES) {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-bench-multispool-'));
    try {
      await Multispool.create(dir, jobs, { log: silentLog });
      // Prefill with 4 writers, then time the takers alone.
      await runWorkers('enqueue', dir, 4, 3600, Math.ceil(PREFILL / 4));
      const results = await runWorkers('checkout-remove', dir, processes, SECONDS, 0);
      report('checkout-remove', processes, results, `QueueReader.dequeueAvailable + remove over ${PREFILL} queued`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function spoolFigures(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-bench-spool-'));
  const noop = async (): Promise<DeliveryReport> => 'delivered';
  try {
    // Adds alone: a killed spool still writes what is added, for its next start.
    const writer = await Spool.create({ dir, deliver: noop, log: silentLog });
    await writer.killAndFlush();
    const latencies: number[] = [];
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          const t0 = performance.now();
          await writer.add({ sender: 'bench@example.org', recipients: [`r${i}@example.org`], body: PAYLOAD });
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const addSeconds = (performance.now() - start) / 1000;
    emit({
      bench: 'spool',
      target: 'spool',
      op: 'add',
      concurrency: CONCURRENCY,
      msgs_per_s: round(MESSAGES / addSeconds),
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      rss_mb: rssMb(),
      note: `${MESSAGES} messages of 1 KiB, one recipient, fsync on, no delivery running`,
    });
    await writer.close();

    const t0 = performance.now();
    const reader = await Spool.create({ dir, deliver: noop, log: silentLog, maxConcurrentJobs: CONCURRENCY });
    const openSeconds = (performance.now() - t0) / 1000;
    emit({
      bench: 'spool',
      target: 'spool',
      op: 'open',
      messages: MESSAGES,
      seconds: round(openSeconds),
      rss_mb: rssMb(),
    });
    while ((await reader.countFromDisk()) > 0 || reader.status().messages.length > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - t0) / 1000 - openSeconds;
    emit({
      bench: 'spool',
      target: 'spool',
      op: 'deliver',
      concurrency: CONCURRENCY,
      msgs_per_s: round(MESSAGES / seconds),
      rss_mb: rssMb(),
      note: `${MESSAGES} messages to a no-op delivery function; each delivery is a checkout and a durable remove`,
    });
    await reader.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, op, dir, seconds, limit] = process.argv.slice(2);
if (mode === 'worker') {
  const result = await work(op as string, dir as string, Number(seconds), Number(limit));
  process.send?.(result, () => process.exit(0));
} else {
  await multispoolFigures();
  await spoolFigures();
}
