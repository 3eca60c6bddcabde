import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/core/index.js';
import type { DataDriver, StoreObserver } from '../../src/store/contract/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

/** An observer that writes down what it is told. */
function recorder() {
  const seen = {
    commits: [] as { seconds: number; records: number }[],
    deadLettered: [] as [string, string, number][],
    expired: [] as [string, string, number][],
  };
  const observer: StoreObserver = {
    committed: (seconds, records) => seen.commits.push({ seconds, records }),
    deadLettered: (project, queue, count) => seen.deadLettered.push([project, queue, count]),
    expired: (project, queue, count) => seen.expired.push([project, queue, count]),
  };
  return { seen, observer };
}

/** A message claimed once, its claim released, then claimed again: with _max_claim_count 1 it is dead-lettered. */
async function deadLetterOne(driver: DataDriver): Promise<void> {
  await driver.queues.create('p', 'q', { _max_claim_count: 1, _dead_letter_queue: 'dlq' });
  await driver.messages.post('p', 'q', [{ body: 'a', ttl: 300 }], 'c');
  const first = await driver.claims.create('p', 'q', { ttl: 60, grace: 60, limit: 1 });
  assert.ok(first);
  await driver.claims.delete('p', 'q', first.id);
  assert.equal(await driver.claims.create('p', 'q', { ttl: 60, grace: 60, limit: 1 }), null);
  assert.equal((await driver.queues.stats('p', 'dlq')).total, 1);
}

describe('store: the StoreObserver', () => {
  it('hears of dead-letter moves and expired messages (memory)', async () => {
    const clock = new FakeClock();
    const { seen, observer } = recorder();
    const driver = createMemoryDriver({ clock, observer });
    try {
      await deadLetterOne(driver);
      assert.deepEqual(seen.deadLettered, [['p', 'q', 1]]);
      await driver.messages.post(
        'p',
        'short',
        [
          { body: 1, ttl: 60 },
          { body: 2, ttl: 60 },
        ],
        'c',
      );
      clock.advance(61_000);
      const report = await driver.gc();
      assert.equal(report.messages, 2);
      assert.deepEqual(seen.expired, [['p', 'short', 2]]);
    } finally {
      await driver.close();
    }
  });

  it('hears of every group commit, and not of what a reopened store replays (disk)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-observer-'));
    try {
      const first = recorder();
      const driver = await createDiskDriver({ dir, gcIntervalMs: 0, observer: first.observer });
      await deadLetterOne(driver);
      await Promise.all(Array.from({ length: 20 }, (_, i) => driver.messages.post('p', 'many', [{ body: i }], 'c')));
      await driver.close();
      assert.deepEqual(first.seen.deadLettered, [['p', 'q', 1]]);
      assert.ok(first.seen.commits.length > 0);
      // Every record written was acknowledged by some commit: the batches add up to at least the 20 posts.
      const records = first.seen.commits.reduce((sum, c) => sum + c.records, 0);
      assert.ok(records >= 20, `${records} records in ${first.seen.commits.length} commits`);
      assert.ok(first.seen.commits.every((c) => c.seconds >= 0 && c.records >= 1));

      const again = recorder();
      const reopened = await createDiskDriver({ dir, gcIntervalMs: 0, observer: again.observer });
      assert.equal((await reopened.queues.stats('p', 'dlq')).total, 1);
      await reopened.close();
      assert.deepEqual(again.seen.deadLettered, [], 'the replayed dead-letter move was counted again');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
