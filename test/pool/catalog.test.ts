import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FakeClock,
  InvalidArgumentError,
  PoolCapabilitiesMismatchError,
  PoolInUseError,
  ResourceConflictError,
  ResourceNotFoundError,
  StorageUnavailableError,
} from '../../src/core/index.js';
import { EMBEDDED_POOL, Lease, parsePoolUri, weightedChoice } from '../../src/pool/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';
import { CLIENT, evenly, POOL_LIMITS, poolSetup } from './support.js';

describe('pool: weighted choice (Zaqar select.weighted)', () => {
  it('picks in proportion to weight, never a weight-0 item, and nothing when all weigh 0', () => {
    const items = [
      { name: 'a', weight: 1 },
      { name: 'zero', weight: 0 },
      { name: 'b', weight: 3 },
    ];
    const random = evenly(1000);
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const pick = weightedChoice(items, random)?.name ?? 'none';
      counts.set(pick, (counts.get(pick) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { a: 250, b: 750 });
    assert.equal(weightedChoice([{ weight: 0 }, { weight: 0 }]), null);
    assert.equal(weightedChoice([]), null);
    // The top of the range stays inside the last item.
    assert.equal(weightedChoice(items, () => 0.999_999_9)?.name, 'b');
  });
});

describe('pool: the catalog', () => {
  it('places queues of no flavor by weight among flavor-less pools, weight 0 taking none, flavored ones in their flavor', async () => {
    const { admin, catalog, service } = poolSetup({ random: evenly(400) });
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    await admin.createPool('b', { uri: 'memory://', weight: 3 });
    await admin.createPool('zero', { uri: 'memory://', weight: 0 });
    await admin.createPool('f1', { uri: 'memory://', weight: 5, flavor: 'fast' });
    await admin.createFlavor('fast', { pool_list: ['f1'] });
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      await service.queues.create('p', `q${i}`, {});
      const route = await catalog.route('p', `q${i}`);
      counts.set(route?.pool ?? 'none', (counts.get(route?.pool ?? 'none') ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { a: 100, b: 300 });
    for (let i = 0; i < 20; i++) {
      await service.queues.create('p', `fast${i}`, { _flavor: 'fast' });
      assert.deepEqual(await catalog.route('p', `fast${i}`), { pool: 'f1' });
    }
    // The queue's data is in its pool, not in the others.
    const f1 = await catalog.driver('f1');
    const a = await catalog.driver('a');
    assert.equal(await f1.queues.exists('p', 'fast0'), true);
    assert.equal(await a.queues.exists('p', 'fast0'), false);
    // A post to a new queue registers it too.
    await service.queues.post('p', 'lazy', CLIENT, { messages: [{ body: 1 }] });
    assert.ok(['a', 'b'].includes((await catalog.route('p', 'lazy'))?.pool ?? ''));
  });

  it('refuses an unknown flavor (400) and registers nothing; a flavor whose pools all weigh 0 is a 409 (retrying cannot help)', async () => {
    const { admin, catalog, service } = poolSetup();
    await assert.rejects(
      service.queues.create('p', 'q', { _flavor: 'nope' }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === '_flavor',
    );
    assert.equal(await catalog.route('p', 'q'), null);
    assert.equal((await service.queues.list('p')).queues.length, 0);
    await admin.createPool('idle', { uri: 'memory://', weight: 0, flavor: 'slow' });
    await admin.createFlavor('slow', { pool_list: ['idle'] });
    await assert.rejects(service.queues.create('p', 'q', { _flavor: 'slow' }), ResourceConflictError);
    assert.equal(await catalog.route('p', 'q'), null);
  });

  it('sends queues of no flavor to the embedded store when no pool takes them, to default_pool when set, and nowhere (503) without either', async () => {
    const embedded = poolSetup();
    await embedded.admin.createPool('idle', { uri: 'memory://', weight: 0 });
    await embedded.service.queues.create('p', 'q', {});
    assert.deepEqual(await embedded.catalog.route('p', 'q'), { pool: EMBEDDED_POOL });
    assert.equal(await embedded.management.queues.exists('p', 'q'), true);

    const named = poolSetup({ defaultPool: 'idle' });
    await named.admin.createPool('busy', { uri: 'memory://', weight: 100 });
    await named.admin.createPool('idle', { uri: 'memory://', weight: 0 });
    await named.service.queues.create('p', 'q', {});
    assert.deepEqual(await named.catalog.route('p', 'q'), { pool: 'idle' });

    const shared = poolSetup({ embedded: null });
    await assert.rejects(shared.service.queues.create('p', 'q', {}), StorageUnavailableError);
    await assert.rejects(shared.service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1 }] }), (e: unknown) => {
      assert.ok(e instanceof StorageUnavailableError);
      assert.match(e.message, /no pool takes new queues/);
      return true;
    });
  });

  it('lets two servers registering one queue at once agree on one pool', async () => {
    const clock = new FakeClock();
    const management = createMemoryDriver({ clock, limits: POOL_LIMITS });
    // Two "servers" reach the same two pools (memory:// and memory: name two stores here).
    const pools = new Map([
      ['memory://', createMemoryDriver({ clock, limits: POOL_LIMITS })],
      ['memory:', createMemoryDriver({ clock, limits: POOL_LIMITS })],
    ]);
    const openDriver = async (uri: string) => pools.get(uri) as DataDriver;
    const one = poolSetup({ clock, management, embedded: null, random: () => 0, openDriver });
    const two = poolSetup({ clock, management, embedded: null, random: () => 0.99, openDriver });
    await one.admin.createPool('a', { uri: 'memory://', weight: 1 });
    await one.admin.createPool('b', { uri: 'memory:', weight: 1 });
    for (let i = 0; i < 20; i++) {
      const name = `q${i}`;
      await Promise.all([
        one.service.queues.post('p', name, CLIENT, { messages: [{ body: 'one' }] }),
        two.service.queues.post('p', name, CLIENT, { messages: [{ body: 'two' }] }),
      ]);
      const route = await one.catalog.route('p', name, true);
      assert.deepEqual(await two.catalog.route('p', name, true), route);
      // Both messages are in the one pool the catalogue names.
      const stats = await one.service.queues.stats('p', name);
      assert.equal(stats.total, 2, `${name} split across pools`);
    }
  });

  it('deletes a queue by deregistering it first, then deleting its data (a crash between leaves orphaned data, never a dangling entry)', async () => {
    const { admin, catalog, service } = poolSetup();
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    await service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1 }] });
    const pool = await catalog.driver('a');
    const realDelete = pool.queues.delete;
    (pool.queues as { delete: DataDriver['queues']['delete'] }).delete = async () => {
      throw new StorageUnavailableError('the pool went away mid-delete');
    };
    await assert.rejects(service.queues.delete('p', 'q'), StorageUnavailableError);
    assert.equal(await catalog.store.getRoute('p', 'q'), null);
    assert.equal(await pool.queues.exists('p', 'q'), true, 'the data is left behind');
    assert.deepEqual((await service.queues.list('p')).queues, []);
    assert.deepEqual((await service.queues.stats('p', 'q')).total, 0);
    (pool.queues as { delete: DataDriver['queues']['delete'] }).delete = realDelete;
    // The name is free again (a new queue of that name in that pool finds the left data, as in Zaqar).
    await service.queues.post('p', 'q', CLIENT, { messages: [{ body: 2 }] });
    assert.deepEqual(await catalog.route('p', 'q'), { pool: 'a' });
  });

  it('caches catalogue entries for cache_seconds: another server sees a changed route after that', async () => {
    const clock = new FakeClock();
    const management = createMemoryDriver({ clock, limits: POOL_LIMITS });
    const one = poolSetup({ clock, management, embedded: null, cacheSeconds: 2 });
    await one.admin.createPool('a', { uri: 'memory://', weight: 1 });
    await one.admin.createPool('b', { uri: 'memory://', weight: 0 });
    await one.service.queues.create('p', 'q', {});
    assert.deepEqual(await one.catalog.route('p', 'q'), { pool: 'a' });
    await management.queues.getMetadata('\u001fcatalog\u001fp', 'q'); // the entry is an ordinary record
    await one.catalog.store.setRoute('p', 'q', { pool: 'b' }); // as another server would
    clock.advance(1_900);
    assert.deepEqual(await one.catalog.route('p', 'q'), { pool: 'a' });
    clock.advance(200);
    assert.deepEqual(await one.catalog.route('p', 'q'), { pool: 'b' });
  });

  it('places a queue of a flavor another server made moments ago, though its pool table is cached', async () => {
    const clock = new FakeClock();
    const management = createMemoryDriver({ clock, limits: POOL_LIMITS });
    const pool = createMemoryDriver({ clock, limits: POOL_LIMITS });
    const openDriver = async () => pool;
    const one = poolSetup({ clock, management, embedded: null, openDriver, cacheSeconds: 60 });
    const two = poolSetup({ clock, management, embedded: null, openDriver, cacheSeconds: 60 });
    await one.admin.createPool('a', { uri: 'memory://', weight: 1 });
    await two.service.queues.create('p', 'plain', {}); // two now holds the pool table, 'a' of no flavor
    await one.admin.createFlavor('durable', { pool_list: ['a'] });
    await two.service.queues.create('p', 'kept', { _flavor: 'durable' });
    assert.deepEqual(await two.catalog.route('p', 'kept'), { pool: 'a' });
  });

  it('answers lookups per controller with the pool driver, and the default pool for a queue in no pool', async () => {
    const { admin, catalog, service, management } = poolSetup();
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    await service.queues.create('p', 'q', {});
    const a = await catalog.driver('a');
    assert.equal(await catalog.lookup('p', 'q'), a);
    assert.equal(await catalog.getQueueController('p', 'q'), a.queues);
    assert.equal(await catalog.getMessageController('p', 'q'), a.messages);
    assert.equal(await catalog.getClaimController('p', 'q'), a.claims);
    assert.equal(await catalog.getSubscriptionController('p', 'q'), a.subscriptions);
    assert.equal(await catalog.lookup('p', 'unknown'), management);
    assert.equal(await catalog.getDefaultPool(), management);
    await catalog.deregister('p', 'q');
    assert.equal(await catalog.lookup('p', 'q'), management);
  });

  it('lists a project’s queues from the catalogue across pools: pages, names, details, filters and counts', async () => {
    const { admin, service } = poolSetup({ random: evenly(2) });
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    await admin.createPool('b', { uri: 'memory://', weight: 1 });
    for (let i = 0; i < 7; i++) await service.queues.create('p', `q${i}`, { n: i, even: i % 2 === 0 });
    await service.queues.create('other', 'x', {});
    const first = await service.queues.list('p', { limit: 3 });
    assert.deepEqual(
      first.queues.map((q) => q.name),
      ['q0', 'q1', 'q2'],
    );
    const second = await service.queues.list('p', { limit: 3, marker: first.marker as string });
    assert.deepEqual(
      second.queues.map((q) => q.name),
      ['q3', 'q4', 'q5'],
    );
    const detailed = await service.queues.list('p', { limit: 2, detailed: true });
    assert.equal(detailed.queues[1]?.metadata?.n, 1);
    const even = await service.queues.list('p', { filter: { even: true }, limit: 2, withCount: true });
    assert.deepEqual(
      even.queues.map((q) => q.name),
      ['q0', 'q2'],
    );
    assert.equal(even.count, 4);
    const evenNext = await service.queues.list('p', {
      filter: { even: true },
      limit: 2,
      marker: even.marker as string,
    });
    assert.deepEqual(
      evenNext.queues.map((q) => q.name),
      ['q4', 'q6'],
    );
    const named = await service.queues.list('p', { name: '5', withCount: true });
    assert.deepEqual(
      named.queues.map((q) => q.name),
      ['q5'],
    );
    assert.equal(named.count, 1);
    assert.equal((await service.queues.list('p', { withCount: true })).count, 7);
  });

  it('adopts a queue the embedded store held before pooling was turned on, on first use', async () => {
    const clock = new FakeClock();
    const embedded = createMemoryDriver({ clock, limits: POOL_LIMITS });
    await embedded.messages.post('p', 'old', [{ body: 'kept' }], CLIENT);
    const { admin, catalog, service } = poolSetup({ clock, management: embedded });
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    const claim = await service.queues.claim('p', 'old', {});
    assert.equal(claim?.messages[0]?.body, 'kept');
    assert.deepEqual(await catalog.route('p', 'old'), { pool: EMBEDDED_POOL });
    assert.deepEqual(
      (await service.queues.list('p')).queues.map((q) => q.name),
      ['old'],
    );
  });

  it('keeps a queue and its dead-letter queue in one pool', async () => {
    const { admin, catalog, service } = poolSetup({ random: () => 0 });
    await admin.createPool('a', { uri: 'memory://', weight: 1 });
    await admin.createPool('b', { uri: 'memory://', weight: 1, flavor: 'other' });
    await admin.createFlavor('other', { pool_list: ['b'] });
    await service.queues.create('p', 'work', { _max_claim_count: 1, _dead_letter_queue: 'dead' });
    assert.deepEqual(await catalog.route('p', 'dead'), { pool: 'a' });
    // The store dead-letters within the pool, and the catalogue finds the messages there.
    await service.queues.post('p', 'work', CLIENT, { messages: [{ body: 'poison' }] });
    const claim = await service.queues.claim('p', 'work', {});
    assert.ok(claim);
    await service.queues.releaseClaim('p', 'work', claim.id);
    assert.equal(await service.queues.claim('p', 'work', {}), null);
    assert.equal((await service.queues.stats('p', 'dead')).total, 1);
    await service.queues.create('p', 'elsewhere', { _flavor: 'other' });
    await assert.rejects(
      service.queues.patch('p', 'elsewhere', [{ op: 'add', path: '/metadata/_dead_letter_queue', value: 'dead' }]),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === '_dead_letter_queue',
    );
    await assert.rejects(
      service.queues.create('p', 'refused', { _flavor: 'other', _dead_letter_queue: 'dead' }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === '_dead_letter_queue',
    );
    assert.equal(await catalog.store.getRoute('p', 'refused'), null, 'a refused queue leaves no entry');
  });

  it('answers 503 for a pool that cannot be opened and tries it again a second later', async () => {
    const clock = new FakeClock();
    let failures = 0;
    const working = createMemoryDriver({ clock, limits: POOL_LIMITS });
    const { catalog, service } = poolSetup({
      clock,
      embedded: null,
      openDriver: async () => {
        if (failures-- > 0) throw new StorageUnavailableError('connect ECONNREFUSED');
        return working;
      },
    });
    await catalog.store.insertPool({
      name: 'flaky',
      uri: 'memory://',
      weight: 1,
      flavor: null,
      options: {},
      capabilities: [],
    });
    failures = 1;
    await assert.rejects(service.queues.create('p', 'q', {}), StorageUnavailableError);
    assert.deepEqual(await catalog.store.getRoute('p', 'q'), { pool: 'flaky' }, 'registered, but its pool is away');
    await assert.rejects(service.queues.stats('p', 'q'), /cannot be opened/);
    clock.advance(1_001);
    await service.queues.create('p', 'q', {});
    assert.equal(await working.queues.exists('p', 'q'), true);
    const health = await service.health();
    assert.equal(health.get('flaky')?.storage_reachable, true);
  });
});

describe('pool: pools and flavors (the admin rules)', () => {
  it('registers pools once, checks flavors share capabilities, and refuses deleting a pool a flavor lists', async () => {
    const clock = new FakeClock();
    const { admin } = poolSetup({
      clock,
      openDriver: async (uri) => {
        const driver = createMemoryDriver({ clock, limits: POOL_LIMITS });
        // A "durable" memory pool stands in for a store with other capabilities than memory's.
        if (uri === 'memory://' && durableNext) {
          durableNext = false;
          return Object.create(driver, {
            capabilities: { value: new Set([...driver.capabilities, 'DURABILITY']) },
          }) as DataDriver;
        }
        return driver;
      },
    });
    let durableNext = false;
    await admin.createPool('m1', { uri: 'memory://', weight: 10 });
    await assert.rejects(admin.createPool('m1', { uri: 'memory://', weight: 10 }), ResourceConflictError);
    await assert.rejects(admin.createPool('bad', { uri: 'ftp://x', weight: 1 }), InvalidArgumentError);
    await assert.rejects(admin.createPool('bad', { uri: 'memory://', weight: -1 }), InvalidArgumentError);
    await assert.rejects(admin.createPool('bad', { uri: 'memory://' }), InvalidArgumentError);
    await assert.rejects(admin.createPool('bad', { uri: 'memory://', weight: 1, colour: 'red' }), InvalidArgumentError);
    await assert.rejects(admin.createPool('bad name', { uri: 'memory://', weight: 1 }), InvalidArgumentError);
    await assert.rejects(admin.createPool(EMBEDDED_POOL, { uri: 'memory://', weight: 1 }), ResourceConflictError);
    assert.deepEqual(
      (await admin.listPools()).pools.map((p) => p.name),
      ['m1'],
    );

    await admin.createPool('m2', { uri: 'memory://', weight: 10 });
    durableNext = true;
    await admin.createPool('d1', { uri: 'memory://', weight: 10 });
    await assert.rejects(admin.createFlavor('mixed', { pool_list: ['m1', 'd1'] }), PoolCapabilitiesMismatchError);
    await assert.rejects(admin.createFlavor('ghost', { pool_list: ['nope'] }), InvalidArgumentError);
    await assert.rejects(admin.createFlavor('empty', { pool_list: [] }), InvalidArgumentError);
    const flavor = await admin.createFlavor('plain', { pool_list: ['m1', 'm2'] });
    assert.deepEqual(flavor.pool_list, ['m1', 'm2']);
    assert.ok(!flavor.capabilities?.includes('DURABILITY'));
    await assert.rejects(admin.createFlavor('plain', { pool_list: ['m1'] }), ResourceConflictError);
    // A pool joining a flavor must match it.
    await assert.rejects(admin.updatePool('d1', { flavor: 'plain' }), PoolCapabilitiesMismatchError);
    durableNext = true;
    await assert.rejects(
      admin.createPool('d2', { uri: 'memory://', weight: 1, flavor: 'plain' }),
      PoolCapabilitiesMismatchError,
    );
    assert.equal(
      (await admin.listPools()).pools.some((p) => p.name === 'd2'),
      false,
      'nothing registered',
    );

    await assert.rejects(admin.deletePool('m1'), PoolInUseError);
    const changed = await admin.updateFlavor('plain', { pool_list: ['m2'] });
    assert.deepEqual(changed.pool_list, ['m2']);
    assert.equal((await admin.getPool('m1')).flavor, null);
    await admin.deletePool('m1');
    await assert.rejects(admin.getPool('m1'), ResourceNotFoundError);
    await admin.deletePool('m1'); // nothing, again
    await admin.deleteFlavor('plain');
    assert.equal((await admin.getPool('m2')).flavor, null);
    await admin.deletePool('m2');

    const patched = await admin.updatePool('d1', { weight: 3, options: { note: 'x' } });
    assert.equal(patched.weight, 3);
    assert.deepEqual(patched.options, { note: 'x' });
    await assert.rejects(admin.updatePool('d1', {}), InvalidArgumentError);
    await assert.rejects(admin.updatePool('ghost', { weight: 1 }), ResourceNotFoundError);
  });

  it('pages pool and flavor listings with markers', async () => {
    const { admin } = poolSetup();
    for (const name of ['p1', 'p2', 'p3']) await admin.createPool(name, { uri: 'memory://', weight: 1 });
    const first = await admin.listPools({ limit: 2 });
    assert.deepEqual(
      first.pools.map((p) => p.name),
      ['p1', 'p2'],
    );
    assert.equal(first.pools[0]?.options, undefined);
    const rest = await admin.listPools({ limit: 2, marker: first.marker as string, detailed: true });
    assert.deepEqual(
      rest.pools.map((p) => p.name),
      ['p3'],
    );
    assert.deepEqual(rest.pools[0]?.options, {});
    await assert.rejects(admin.listPools({ limit: 0 }), InvalidArgumentError);
  });
});

describe('pool: pool URIs', () => {
  it('parses each kind and refuses what is malformed', () => {
    assert.deepEqual(parsePoolUri('disk:///var/lib/posthorn/p1'), {
      kind: 'disk',
      uri: 'disk:///var/lib/posthorn/p1',
      dir: '/var/lib/posthorn/p1',
      shared: false,
    });
    assert.equal(parsePoolUri('memory://').kind, 'memory');
    assert.equal(parsePoolUri('redis://127.0.0.1:6379/2?prefix=a:').kind, 'redis');
    assert.equal(parsePoolUri('redis+cluster://h1:7000,h2:7001').shared, true);
    assert.equal(parsePoolUri('postgres://u:p@db:5432/q?schema=pool1').kind, 'postgres');
    for (const bad of [
      '',
      'disk://relative/path',
      'disk:///',
      'memory://x',
      'redis://h:99999',
      'redis+cluster://h1',
      'postgres://db/q?nonsense=1',
      'mongodb://db',
      `redis://${'h'.repeat(300)}`,
      42,
    ]) {
      assert.throws(() => parsePoolUri(bad), InvalidArgumentError, String(bad));
    }
  });
});

describe('pool: the lease on the storage contract', () => {
  it('is held by one taker at a time, passes on when released, and expires with a holder that stops renewing', async () => {
    const clock = new FakeClock();
    const store = createMemoryDriver({ clock, limits: POOL_LIMITS });
    const first = await Lease.acquire(store, 'move-x', 10);
    assert.ok(first);
    assert.equal(await Lease.acquire(store, 'move-x', 10), null);
    assert.equal(await Lease.isHeld(store, 'move-x'), true);
    assert.ok(await Lease.acquire(store, 'move-y', 10), 'names are independent');
    await first.release();
    const second = await Lease.acquire(store, 'move-x', 10);
    assert.ok(second);
    clock.advance(9_000);
    assert.equal(await second.renew(), true);
    clock.advance(9_000);
    assert.equal(await Lease.acquire(store, 'move-x', 10), null, 'renewed: still held');
    clock.advance(11_000);
    const third = await Lease.acquire(store, 'move-x', 10);
    assert.ok(third, 'expired: free again');
    assert.equal(await second.renew(), false, 'the lapsed holder learns it lost the lease');
    // Several concurrent takers of a fresh name: exactly one wins.
    const takers = await Promise.all(Array.from({ length: 5 }, () => Lease.acquire(store, 'move-z', 10)));
    assert.equal(takers.filter((t) => t !== null).length, 1);
  });
});
