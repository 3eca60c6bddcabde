import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../../bench/pools.js';
import { limiter } from '../../bench/worker.js';

/**
 * bench:worker's harness, not its speed: a small run must do every job exactly once, print one
 * figure per target with the fields DESIGN.md names, and leave no namespace behind. Nothing
 * here reads a rate beyond "some work was done".
 */

interface Line {
  bench: string;
  target: string;
  op: string;
  concurrency: number;
  jobs: number;
  jobs_per_s: number;
  p50_ms: number;
  p99_ms: number;
  duplicates: number;
  missing?: number;
  ratio?: number;
  vs?: string;
}

function runBench(env: Record<string, string>): Line[] {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/worker.ts'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

describe('bench:worker', () => {
  it('runs every job once on the disk and Redis targets, prints a figure and a ratio, and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-worker-bench-test-'));
    try {
      const lines = runBench({
        BENCH_JOBS: '500',
        BENCH_OPS: 'noop',
        BENCH_CONCURRENCY: '8',
        BENCH_TARGETS: 'posthorn-disk,posthorn-redis,bullmq',
        BENCH_DIR: dir,
      });
      const figures = lines.filter((l) => !l.op.startsWith('ratio:'));
      assert.deepEqual(figures.map((f) => f.target).sort(), ['bullmq', 'posthorn-disk', 'posthorn-redis']);
      for (const f of figures) {
        assert.equal(f.bench, 'worker');
        assert.equal(f.op, 'noop');
        assert.equal(f.concurrency, 8);
        assert.equal(f.jobs, 500, `${f.target} did every job`);
        assert.equal(f.duplicates, 0, `${f.target} ran no job twice`);
        assert.equal(f.missing, undefined);
        assert.ok(f.jobs_per_s > 0);
        assert.ok(f.p50_ms <= f.p99_ms);
      }
      const ratio = lines.find((l) => l.op === 'ratio:noop');
      assert.equal(ratio?.target, 'posthorn-redis');
      assert.equal(ratio?.vs, 'bullmq');
      const redis = figures.find((f) => f.target === 'posthorn-redis') as Line;
      const bull = figures.find((f) => f.target === 'bullmq') as Line;
      assert.equal(ratio?.ratio, Math.round((redis.jobs_per_s / bull.jobs_per_s) * 100) / 100);
      assert.equal(existsSync(join(dir, 'posthorn-bench-worker')), false, 'the disk folder is removed');
      const client = new Redis(REDIS_URL);
      try {
        const [, ours] = await client.scan('0', 'MATCH', 'phbench-worker:*', 'COUNT', 10_000);
        const [, theirs] = await client.scan('0', 'MATCH', 'bullbench-worker:*', 'COUNT', 10_000);
        assert.deepEqual([...ours, ...theirs], [], 'no keys are left in Redis');
      } finally {
        client.disconnect();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("limiter: pg-boss's handlers never run more than the concurrency at once, and all run", async () => {
    const limit = limiter(3);
    let running = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 10 }, (_, i) =>
      limit(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        return i;
      }),
    );
    // Open the gates one at a time, only once a task waits on one: no timing is guessed.
    let opened = 0;
    while (opened < 10) {
      await new Promise((resolve) => setImmediate(resolve));
      const gate = gates.shift();
      if (gate) {
        assert.ok(running <= 3);
        gate();
        opened++;
      }
    }
    assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(most, 3);
  });
});
