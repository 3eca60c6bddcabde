/**
 * Idempotency keys across SIGKILL: a child posts with a key per post (each posted twice at
 * once) and is killed while posts are in flight. After reopening, every post asked for is
 * repeated with its key: an acknowledged one answers its ids, and in the end each key holds
 * exactly its own messages once — a crash kept no messages without their key, nor a key
 * without its messages.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { idempotentBatch } from '../fixtures/idempotent-batch.js';
import { startReadyChild } from '../fixtures/ready-child.js';

const worker = new URL('../fixtures/disk-idempotent-poster.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'posthorn-idem-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 4);

function startWorker(dir: string, side: string, extra: number, first: number): Promise<ChildProcess> {
  return startReadyChild(worker, [dir, side, String(extra), String(first)]);
}

function readSide(side: string): { asked: Set<number>; acked: Map<number, string[]> } {
  const asked = new Set<number>();
  const acked = new Map<number, string[]>();
  if (!existsSync(side)) return { asked, acked };
  for (const line of readFileSync(side, 'utf8').split('\n')) {
    const [kind, n, ids] = line.split(' ');
    if (kind === 'p') asked.add(Number(n));
    if (kind === 'P' && ids) acked.set(Number(n), ids.split(','));
  }
  return { asked, acked };
}

describe('disk store: idempotency keys after SIGKILL', () => {
  it(`every key holds its post exactly once across ${ROUNDS} kills`, { timeout: 300_000 }, async () => {
    const dir = join(root, 'store');
    const side = join(root, 'side');
    let checked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Each round's posts have new keys, but the checks repeat every earlier round's too.
      const child = await startWorker(dir, side, 30 + round * 45, round * 100_000);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      const { asked, acked } = readSide(side);
      assert.ok(acked.size > 0, 'the worker acknowledged posts before it was killed');
      const store = await createDiskDriver({ dir, logger: silentLogger, gcIntervalMs: 0 });
      try {
        let expected = 0;
        for (const n of asked) {
          const batch = idempotentBatch(n);
          expected += batch.length;
          const ids = await store.messages.post('crash', 'keys', batch, 'checker', { idempotencyKey: `key-${n}` });
          const known = acked.get(n);
          if (known) {
            assert.deepEqual(ids, known, `post ${n} was acknowledged: its key answers its ids`);
            checked++;
          }
          const found = await store.messages.bulkGet('crash', 'keys', ids);
          assert.deepEqual(
            found.map((m) => m.body),
            batch.map((m) => m.body),
            `post ${n}: the ids its key answers are its messages`,
          );
        }
        assert.equal(
          (await store.queues.stats('crash', 'keys')).total,
          expected,
          'each post asked for is stored exactly once',
        );
      } finally {
        await store.close();
      }
    }
    process.stdout.write(`# checked ${checked} acknowledged keyed posts over ${ROUNDS} kills\n`);
  });
});
