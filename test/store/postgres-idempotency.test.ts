/**
 * Idempotency keys on PostgreSQL across servers: two drivers (two connection pools, as two
 * `posthorn serve` processes have) post with the same keys at once. Each key must hold one post,
 * whichever server's transaction commits first, and a key reused for other messages is refused
 * from either side. Batched keyed posts must not fail one another: a reused key in a batch
 * leaves the other posts of the batch stored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdempotencyKeyReusedError } from '../../src/core/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { DATABASE_URL, freshSchema, trackDrivers, withPostgres } from './postgres-support.js';

await withPostgres('postgres: idempotency keys across servers', () => {
  describe('postgres: idempotency keys across servers', () => {
    const schema = freshSchema('idem');
    const track = trackDrivers(schema);

    it('two servers racing with the same keys store each post once and answer the same ids', async () => {
      const a = await track(createPostgresDriver({ url: DATABASE_URL, schema }));
      const b = await track(createPostgresDriver({ url: DATABASE_URL, schema }));
      const ROUNDS = 25;
      const PER_ROUND = 4;
      const post = (driver: typeof a, k: number) =>
        driver.messages.post('p', 'race', [{ body: { k } }, { body: { k, second: true } }], 'c', {
          idempotencyKey: `key-${k}`,
        });
      // Warm: both pools connected and the queue made, so the two servers' batches overlap.
      await Promise.all([a.queues.create('p', 'race'), b.queues.exists('p', 'race')]);
      const firsts: string[][] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const keys = Array.from({ length: PER_ROUND }, (_, i) => round * PER_ROUND + i);
        const answers = await Promise.all(
          keys.map((k) => Promise.all([post(a, k), post(b, k), post(b, k), post(a, k)])),
        );
        for (const [i, four] of answers.entries()) {
          for (const ids of four) assert.deepEqual(ids, four[0], `key-${keys[i]}: every racer answers the same ids`);
          firsts.push(four[0] as string[]);
        }
      }
      assert.equal((await a.queues.stats('p', 'race')).total, ROUNDS * PER_ROUND * 2);
      assert.equal(new Set(firsts.flat()).size, ROUNDS * PER_ROUND * 2);
    });

    it('a reused key in a batch of keyed posts fails alone: the others of the batch are stored', async () => {
      const a = await track(createPostgresDriver({ url: DATABASE_URL, schema }));
      const [first] = await a.messages.post('p', 'batch', [{ body: 'one' }], 'c', { idempotencyKey: 'taken' });
      // Made in one turn, these go to the database as one batch.
      const outcomes = await Promise.allSettled([
        a.messages.post('p', 'batch', [{ body: 'two' }], 'c', { idempotencyKey: 'fresh-1' }),
        a.messages.post('p', 'batch', [{ body: 'other' }], 'c', { idempotencyKey: 'taken' }),
        a.messages.post('p', 'batch', [{ body: 'one' }], 'c', { idempotencyKey: 'taken' }),
        a.messages.post('p', 'batch', [{ body: 'three' }], 'c', { idempotencyKey: 'fresh-2' }),
        a.messages.post('p', 'batch', [{ body: 'three' }], 'c', { idempotencyKey: 'fresh-2' }),
      ]);
      assert.equal(outcomes[0]?.status, 'fulfilled');
      assert.equal(outcomes[1]?.status, 'rejected');
      assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof IdempotencyKeyReusedError);
      assert.deepEqual((outcomes[2] as PromiseFulfilledResult<string[]>).value, [first]);
      assert.deepEqual(
        (outcomes[3] as PromiseFulfilledResult<string[]>).value,
        (outcomes[4] as PromiseFulfilledResult<string[]>).value,
        'two posts with one key in one batch: the second answers the first',
      );
      const bodies = (await a.messages.list('p', 'batch', { echo: true })).messages.map((m) => m.body);
      assert.deepEqual(bodies, ['one', 'two', 'three']);
    });
  });
});
