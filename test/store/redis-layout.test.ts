/**
 * Where the Redis driver keeps a message: its short fields in a hash that stays a compact
 * listpack, its body in a string of its own (src/store/redis/lua/includes/keys.lua). Messages written
 * before bodies moved out (body in the hash) are still read, claimed, moved and deleted.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { decodeValue, encodeValue, FakeClock, silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import {
  countKeys,
  deleteKeys,
  listKeys,
  REDIS_URL,
  redisAnswers,
  suiteNeeding,
  uniquePrefix,
} from './redis/support.js';

const reachable = await redisAnswers(REDIS_URL);

suiteNeeding('redis message layout', reachable ? null : `no Redis answers at ${REDIS_URL}`, () => {
  let admin: Redis;
  const prefixes: string[] = [];
  const drivers: DataDriver[] = [];
  before(() => {
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
  });
  after(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    for (const prefix of prefixes) await deleteKeys(admin, prefix);
    admin.disconnect();
  });
  const open = async (clock = new FakeClock()) => {
    const keyPrefix = uniquePrefix();
    prefixes.push(keyPrefix);
    const driver = await createRedisDriver({ url: REDIS_URL, keyPrefix, clock, logger: silentLogger });
    drivers.push(driver);
    return { driver, keyPrefix, clock };
  };

  it('a message’s fields stay a compact hash, its body a string of its own, and a delete removes both', async () => {
    const { driver, keyPrefix } = await open();
    const body = { text: 'x'.repeat(1000) };
    const [id] = (await driver.messages.post('p', 'q', [{ body }], 'c')) as [string];
    const base = `${keyPrefix}{p}:q:q`;
    assert.equal(await admin.object('ENCODING', `${base}:m:${id}`), 'listpack');
    assert.equal(await admin.hexists(`${base}:m:${id}`, 'b'), 0);
    assert.deepEqual(decodeValue((await admin.getBuffer(`${base}:b:${id}`)) as Buffer), body);
    assert.deepEqual((await driver.messages.get('p', 'q', id)).body, body);
    await driver.messages.delete('p', 'q', id);
    assert.deepEqual(await listKeys(admin, `${base}:m:`), []);
    assert.deepEqual(await listKeys(admin, `${base}:b:`), []);
  });

  it('a message whose body is in its hash (written before bodies had keys) is read, claimed, moved to a dead-letter queue and deleted', async () => {
    const { driver, keyPrefix, clock } = await open();
    await driver.queues.create('p', 'q', { _max_claim_count: 1, _dead_letter_queue: 'dlq' });
    const [old, fresh] = (await driver.messages.post('p', 'q', [{ body: 'old' }, { body: 'fresh' }], 'c')) as [
      string,
      string,
    ];
    // Rewrite the first as the earlier layout had it.
    const base = `${keyPrefix}{p}:q:q`;
    await admin.hset(`${base}:m:${old}`, 'b', encodeValue('old from the hash'));
    await admin.del(`${base}:b:${old}`);

    assert.equal((await driver.messages.get('p', 'q', old)).body, 'old from the hash');
    const listed = await driver.messages.list('p', 'q', { echo: true });
    assert.deepEqual(
      listed.messages.map((m) => m.body),
      ['old from the hash', 'fresh'],
    );
    const claim = await driver.claims.create('p', 'q', { limit: 2, ttl: 60 });
    assert.deepEqual(
      claim?.messages.map((m) => m.body),
      ['old from the hash', 'fresh'],
    );
    // Both reached their claim limit: the next claim moves them to the dead-letter queue.
    clock.advance(61_000);
    assert.equal(await driver.claims.create('p', 'q'), null);
    const moved = await driver.messages.bulkGet('p', 'dlq', [old, fresh]);
    assert.deepEqual(
      moved.map((m) => m.body),
      ['old from the hash', 'fresh'],
    );
    await driver.messages.bulkDelete('p', 'dlq', [old, fresh]);
    assert.equal(await countKeys(admin, `${keyPrefix}{p}:q:dlq:m:`), 0);
    assert.equal(await countKeys(admin, `${keyPrefix}{p}:q:dlq:b:`), 0);
    assert.equal(await countKeys(admin, `${base}:b:`), 0);
  });

  it('popping, and deleting a whole queue, leave no body behind', async () => {
    const { driver, keyPrefix } = await open();
    await driver.messages.post(
      'p',
      'a',
      Array.from({ length: 5 }, (_, i) => ({ body: i })),
      'c',
    );
    const popped = await driver.messages.pop('p', 'a', 5);
    assert.deepEqual(
      popped.map((m) => m.body),
      [0, 1, 2, 3, 4],
    );
    assert.equal(await countKeys(admin, `${keyPrefix}{p}:q:a:b:`), 0);
    await driver.messages.post(
      'p',
      'b',
      Array.from({ length: 700 }, (_, i) => ({ body: i })),
      'c',
    );
    assert.equal(await countKeys(admin, `${keyPrefix}{p}:q:b:b:`), 700);
    await driver.queues.delete('p', 'b');
    assert.equal(await countKeys(admin, `${keyPrefix}{p}:q:b:`), 0);
  });
});
