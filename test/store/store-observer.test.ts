import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { FakeClock, silentLogger } from '../../src/core/index.js';
import type { DataDriver, StoreObserver } from '../../src/store/contract/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';
import { deleteKeys, REDIS_URL, redisAnswers, suiteNeeding, uniquePrefix } from './redis/support.js';

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

/** A project whose name needs escaping in Redis keys, so gc must name it as it was given. */
const ODD_PROJECT = 'o:{t}%';

/**
 * Dead-letter moves by a claim and by a pop, several messages in one call, then gc of expired
 * messages in two queues: the observer must hear each with its exact count, once.
 */
async function exactCounts(driver: DataDriver, clock: FakeClock, seen: ReturnType<typeof recorder>['seen']) {
  const policy = { _max_claim_count: 1, _dead_letter_queue: 'dlq' };
  await driver.queues.create('p', 'q', policy);
  await driver.messages.post(
    'p',
    'q',
    [{ body: 1 }, { body: 2 }, { body: 3 }].map((m) => ({ ...m, ttl: 300 })),
    'c',
  );
  const first = await driver.claims.create('p', 'q', { ttl: 60, grace: 60, limit: 3 });
  assert.equal(first?.messages.length, 3);
  await driver.claims.delete('p', 'q', (first as { id: string }).id);
  assert.equal(await driver.claims.create('p', 'q', { ttl: 60, grace: 60, limit: 10 }), null);
  assert.deepEqual(seen.deadLettered, [['p', 'q', 3]]);

  await driver.queues.create('p', 'pq', policy);
  await driver.messages.post(
    'p',
    'pq',
    [
      { body: 'x', ttl: 300 },
      { body: 'y', ttl: 300 },
      { body: 'z', ttl: 300 },
    ],
    'c',
  );
  const held = await driver.claims.create('p', 'pq', { ttl: 60, grace: 60, limit: 2 });
  assert.equal(held?.messages.length, 2);
  await driver.claims.delete('p', 'pq', (held as { id: string }).id);
  // The two claimed once go to the dead-letter queue on the way; the third is popped.
  const popped = await driver.messages.pop('p', 'pq', 5);
  assert.deepEqual(
    popped.map((m) => m.body),
    ['z'],
  );
  assert.deepEqual(seen.deadLettered, [
    ['p', 'q', 3],
    ['p', 'pq', 2],
  ]);
  assert.equal((await driver.queues.stats('p', 'dlq')).total, 5);
  // A claim with nothing to dead-letter says nothing.
  assert.equal(await driver.claims.create('p', 'pq', { ttl: 60, grace: 60, limit: 1 }), null);
  assert.equal(seen.deadLettered.length, 2);

  await driver.messages.post(
    ODD_PROJECT,
    'short',
    [
      { body: 1, ttl: 60 },
      { body: 2, ttl: 60 },
    ],
    'c',
  );
  await driver.messages.post(
    ODD_PROJECT,
    'other',
    [1, 2, 3].map((body) => ({ body, ttl: 60 })),
    'c',
  );
  await driver.messages.post(ODD_PROJECT, 'other', [{ body: 'stays', ttl: 300 }], 'c');
  clock.advance(61_000);
  const report = await driver.gc();
  assert.equal(report.messages, 5);
  assert.deepEqual(
    [...seen.expired].sort((a, b) => a[1].localeCompare(b[1])),
    [
      [ODD_PROJECT, 'other', 3],
      [ODD_PROJECT, 'short', 2],
    ],
  );
  assert.equal((await driver.gc()).messages, 0);
  assert.equal(seen.expired.length, 2, 'a second gc with nothing to remove said something');

  // A message that expired where a claim meets it is counted once, whether the claim removes it
  // on its way (Redis) or gc does after (the others).
  await driver.messages.post('p', 'lapse', [{ body: 'old', ttl: 60 }], 'c');
  clock.advance(61_000);
  assert.equal(await driver.claims.create('p', 'lapse', { ttl: 60, grace: 60, limit: 5 }), null);
  await driver.gc();
  const lapsed = seen.expired.filter(([, queue]) => queue === 'lapse').reduce((sum, [, , count]) => sum + count, 0);
  assert.equal(lapsed, 1);
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

describe('store: the StoreObserver, exact counts', () => {
  it('memory', async () => {
    const clock = new FakeClock();
    const { seen, observer } = recorder();
    const driver = createMemoryDriver({ clock, observer });
    try {
      await exactCounts(driver, clock, seen);
    } finally {
      await driver.close();
    }
  });
});

const redisReachable = await redisAnswers(REDIS_URL);

suiteNeeding('store: the StoreObserver (redis)', redisReachable ? null : `no Redis answers at ${REDIS_URL}`, () => {
  let admin: Redis;
  const keyPrefix = uniquePrefix();
  before(() => {
    admin = new Redis(REDIS_URL);
  });
  after(async () => {
    await deleteKeys(admin, keyPrefix);
    await admin.quit();
  });

  it('hears dead-letter moves counted by the claim and pop scripts, and what gc expired, per queue', async () => {
    const clock = new FakeClock();
    const { seen, observer } = recorder();
    const driver = await createRedisDriver({ url: REDIS_URL, keyPrefix, clock, observer, logger: silentLogger });
    try {
      await exactCounts(driver, clock, seen);
    } finally {
      await driver.close();
    }
  });
});

await withPostgres('store: the StoreObserver (postgres)', () => {
  describe('store: the StoreObserver (postgres)', () => {
    const schema = freshSchema('observer');
    after(async () => {
      await dropSchema(schema);
    });

    it('hears dead-letter moves counted by the take functions, and what gc expired, per queue', async () => {
      const clock = new FakeClock();
      const { seen, observer } = recorder();
      const driver = await createPostgresDriver({ url: DATABASE_URL, schema, clock, observer });
      try {
        await exactCounts(driver, clock, seen);
      } finally {
        await driver.close();
      }
    });
  });
});
