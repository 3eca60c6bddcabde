import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { Redis } from 'ioredis';
import { InvalidArgumentError, silentLogger, systemClock } from '../../src/core/index.js';
import { Catalog, Lease, openPoolDriver, PoolAdmin, QueueMover } from '../../src/pool/index.js';
import { QueueService } from '../../src/service/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { DATABASE_URL, dropSchema, freshSchema, probePostgres } from '../store/postgres-support.js';
import { deleteKeys, REDIS_URL, redisAnswers, suiteNeeding, uniquePrefix } from '../store/redis/support.js';
import { CLIENT, POOL_LIMITS } from './support.js';

/**
 * The catalog with its management store and pools in a real Redis and a real PostgreSQL: the
 * catalogue, pool records and leases work on both, two servers agree, and a live queue moves from
 * a Redis pool to a PostgreSQL pool and back with nothing lost or doubled.
 */

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.href;
}

const redisUp = await redisAnswers(REDIS_URL);
const postgresProblem = await probePostgres();
const reason = !redisUp
  ? `Redis at ${REDIS_URL} is not reachable`
  : postgresProblem !== null
    ? `PostgreSQL at ${DATABASE_URL} is not reachable (${postgresProblem})`
    : null;

suiteNeeding('pool: catalog and pools on real Redis and PostgreSQL', reason, () => {
  const prefixes: string[] = [];
  const schemas: string[] = [];
  const redisPool = () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return withQuery(REDIS_URL, 'prefix', prefix);
  };
  const postgresPool = () => {
    const schema = freshSchema('pool');
    schemas.push(schema);
    return withQuery(DATABASE_URL, 'schema', schema);
  };
  const open: DataDriver[] = [];
  const catalogs: Catalog[] = [];

  async function server(management: string, random: () => number = Math.random) {
    const driver = await openPoolDriver(management, { limits: POOL_LIMITS, logger: silentLogger });
    open.push(driver);
    const catalog = new Catalog({
      management: driver,
      embedded: null,
      limits: POOL_LIMITS,
      clock: systemClock,
      cacheSeconds: 0.2,
      settleSeconds: 0.3,
      sharedOnly: true,
      random,
    });
    catalogs.push(catalog);
    return {
      catalog,
      admin: new PoolAdmin(catalog),
      mover: new QueueMover(catalog),
      service: new QueueService({ resolver: catalog }),
    };
  }

  after(async () => {
    for (const catalog of catalogs) await catalog.close().catch(() => {});
    for (const driver of open) await driver.close().catch(() => {});
    const admin = new Redis(REDIS_URL);
    for (const prefix of prefixes) await deleteKeys(admin, prefix);
    admin.disconnect();
    for (const schema of schemas) await dropSchema(schema);
  });

  for (const kind of ['postgres', 'redis'] as const) {
    it(`keeps the catalogue in ${kind}: pools, routes, listings and leases, shared by two servers`, async () => {
      const management = kind === 'redis' ? redisPool() : postgresPool();
      const one = await server(management, () => 0);
      const two = await server(management, () => 0.99);
      await one.admin.createPool('r', { uri: redisPool(), weight: 1 });
      await one.admin.createPool('g', { uri: postgresPool(), weight: 1 });
      await assert.rejects(
        one.admin.createPool('local', { uri: 'memory://', weight: 1 }),
        (e: unknown) => e instanceof InvalidArgumentError && /shared by several servers/.test(e.message),
      );
      assert.deepEqual(
        (await two.admin.listPools()).pools.map((p) => p.name),
        ['g', 'r'],
      );
      assert.ok((await two.admin.getPool('g')).capabilities.includes('DURABILITY'));
      for (let i = 0; i < 10; i++) {
        await Promise.all([
          one.service.queues.post('p', `q${i}`, CLIENT, { messages: [{ body: 'one' }] }),
          two.service.queues.post('p', `q${i}`, CLIENT, { messages: [{ body: 'two' }] }),
        ]);
        assert.equal((await two.service.queues.stats('p', `q${i}`)).total, 2);
      }
      const listed = await two.service.queues.list('p', { limit: 20, detailed: true, withCount: true });
      assert.equal(listed.count, 10);
      assert.equal(listed.queues.length, 10);
      const lease = await Lease.acquire(one.catalog.store.driver, 'x', 5);
      assert.ok(lease);
      assert.equal(await Lease.acquire(two.catalog.store.driver, 'x', 5), null);
      await lease.release();
      assert.ok(await Lease.acquire(two.catalog.store.driver, 'x', 5));
    });
  }

  it('moves a live queue from a Redis pool to a PostgreSQL pool and back: nothing lost, nothing twice', async () => {
    const management = postgresPool();
    const one = await server(management, () => 0);
    const two = await server(management);
    await one.admin.createPool('r', { uri: redisPool(), weight: 1 });
    await one.admin.createPool('g', { uri: postgresPool(), weight: 0 });
    const acked = new Set<number>();
    const seen = new Map<number, number>();
    let next = 0;
    const post = async (service: QueueService, count: number) => {
      const batch = Array.from({ length: count }, () => next++);
      await service.queues.post('p', 'live', CLIENT, { messages: batch.map((n) => ({ body: { n } })) });
      for (const n of batch) acked.add(n);
    };
    for (let i = 0; i < 20; i++) await post(one.service, 20); // 400 waiting
    let producing = true;
    const producer = (async () => {
      while (producing) await post(next % 2 === 0 ? one.service : two.service, 5);
    })();
    const consumer = async (service: QueueService, stop: () => boolean) => {
      for (;;) {
        const claim = await service.queues.claim('p', 'live', { ttl: 60, grace: 60 }, 10);
        if (claim === null) {
          if (stop()) return;
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        await service.queues.deleteMessages(
          'p',
          'live',
          claim.messages.map((m) => m.id),
        );
        for (const m of claim.messages) {
          const n = (m.body as { n: number }).n;
          seen.set(n, (seen.get(n) ?? 0) + 1);
        }
      }
    };
    let draining = false;
    const consumers = [consumer(one.service, () => draining), consumer(two.service, () => draining)];
    const there = await one.mover.move('p', 'live', 'g');
    assert.equal(there.status, 'done', there.error ?? '');
    assert.deepEqual(await two.catalog.route('p', 'live', true), { pool: 'g' });
    const back = await two.mover.move('p', 'live', 'r');
    assert.equal(back.status, 'done', back.error ?? '');
    producing = false;
    await producer;
    draining = true;
    await Promise.all(consumers);
    const twice = [...seen].filter(([, times]) => times > 1);
    const lost = [...acked].filter((n) => !seen.has(n));
    assert.deepEqual(twice, []);
    assert.deepEqual(lost, []);
    assert.ok(acked.size > 400);
    const g = await one.catalog.driver('g');
    assert.equal(await g.queues.exists('p', 'live'), false, 'nothing left in the pool it left');
  });
});
