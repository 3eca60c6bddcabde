/**
 * The Redis driver against the shared server at REDIS_URL (default redis://127.0.0.1:6379): the
 * whole conformance suite (each case under its own key prefix, removed after; never FLUSHALL),
 * plus what is particular to Redis — pool URIs, the capabilities read from the server's
 * configuration, the key layout, and claims that do not rescan claimed messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { conformanceCases, rejectsWith, runConformance } from '../../src/conformance/index.js';
import { FakeClock, InvalidArgumentError, StorageUnavailableError, silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createRedisDriver, KeyLayout, parseRedisUri } from '../../src/store/redis/index.js';
import {
  countKeys,
  deleteKeys,
  freePort,
  listKeys,
  REDIS_URL,
  RedisServer,
  recordingLogger,
  redisAnswers,
  redisBinariesPresent,
  redisTarget,
  suiteNeeding,
  uniquePrefix,
} from './redis/support.js';

describe('redis pool URIs', () => {
  it('parses single servers, databases, credentials, TLS, prefixes and cluster seed lists', () => {
    assert.deepEqual(parseRedisUri('redis://127.0.0.1:6390/3'), {
      mode: 'standalone',
      host: '127.0.0.1',
      port: 6390,
      db: 3,
      tls: false,
    });
    assert.deepEqual(parseRedisUri('rediss://app:s%3Acret@cache.example:6380?prefix=pool-a:'), {
      mode: 'standalone',
      host: 'cache.example',
      port: 6380,
      db: 0,
      tls: true,
      username: 'app',
      password: 's:cret',
      keyPrefix: 'pool-a:',
    });
    assert.deepEqual(parseRedisUri('redis://localhost'), {
      mode: 'standalone',
      host: 'localhost',
      port: 6379,
      db: 0,
      tls: false,
    });
    assert.deepEqual(parseRedisUri('redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002'), {
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
      password: 'pw',
    });
    // Timeouts as in PostgreSQL URIs: connect_timeout in seconds, the per-call one in milliseconds.
    assert.deepEqual(parseRedisUri('redis://h:1?command_timeout=750&connect_timeout=2&prefix=p:'), {
      mode: 'standalone',
      host: 'h',
      port: 1,
      db: 0,
      tls: false,
      keyPrefix: 'p:',
      commandTimeoutMs: 750,
      connectTimeoutMs: 2000,
    });
  });

  it('refuses malformed URIs with InvalidArgumentError naming the field', () => {
    const bad = [
      '',
      'http://127.0.0.1:6379',
      'redis://',
      'redis://host:99999',
      'redis://host:6379/zero',
      'redis://a:1,b:2',
      'redis+cluster://a:1,,b:2',
      'redis+cluster://a,b:2',
      'redis+cluster://a:1/2',
      'redis://host?colour=red',
      'redis://host?prefix=%7Bx%7D',
      'redis://us%zzer@host',
      'redis://host?command_timeout=0',
      'redis://host?command_timeout=1.5',
      'redis://host?connect_timeout=soon',
      'redis://host?command_timeout=1&command_timeout=2',
    ];
    for (const uri of bad) {
      assert.throws(
        () => parseRedisUri(uri, 'uri'),
        (e: unknown) => e instanceof InvalidArgumentError && e.field === 'uri',
        `${JSON.stringify(uri)} should be refused`,
      );
    }
  });

  it('refuses a key prefix that would change the hash tag', () => {
    assert.throws(() => new KeyLayout('ph{x}:'), InvalidArgumentError);
  });

  it('keeps every key of a project under one hash tag, and names cannot forge keys', () => {
    const keys = new KeyLayout('ph:');
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    for (const project of ['', 'acme', 'a}b{c', 'x:y%z', '\uD800lone']) {
      const all = [keys.queueIndex(project), keys.trashIndex(project), keys.queueBase(project, 'orders')];
      assert.equal(new Set(all.map(tag)).size, 1, `one tag for project ${JSON.stringify(project)}`);
      assert.notEqual(tag(all[0] as string), '', 'never an empty tag, which would hash the whole key');
    }
    assert.notEqual(keys.queueBase('a', 'b:ids'), `${keys.queueBase('a', 'b')}:ids`);
    assert.notEqual(keys.projectBase('%'), keys.projectBase(''));
    assert.notEqual(keys.projectBase('\uD800'), keys.projectBase('\uDC00'));
  });

  it('gives back the project a tag names (gc reports expiry per project and queue)', () => {
    const keys = new KeyLayout('ph:');
    for (const project of ['', '%', '%25', 'acme', 'a}b{c', 'x:y%z', '%u0041', '\uD800lone', '\uDC00', 'é\u{1F600}']) {
      assert.equal(KeyLayout.projectOfTag(keys.projectTag(project)), project, JSON.stringify(project));
    }
  });
});

const reachable = await redisAnswers(REDIS_URL);

suiteNeeding('redis (shared server)', reachable ? null : `no Redis answers at ${REDIS_URL}`, () => {
  let admin: Redis;
  before(() => {
    admin = new Redis(REDIS_URL);
  });
  after(async () => {
    await admin.quit();
  });

  runConformance(
    redisTarget('redis', { url: REDIS_URL }, () => admin),
    conformanceCases,
  );

  describe('redis: particulars', () => {
    const opened: DataDriver[] = [];
    const prefixes: string[] = [];
    const open = async (clock = new FakeClock()) => {
      const keyPrefix = uniquePrefix();
      prefixes.push(keyPrefix);
      const driver = await createRedisDriver({ url: REDIS_URL, clock, keyPrefix, logger: silentLogger });
      opened.push(driver);
      return { driver, keyPrefix, clock };
    };
    after(async () => {
      for (const d of opened) await d.close();
      for (const p of prefixes) await deleteKeys(admin, p);
    });

    it('declares DURABILITY exactly when the server runs appendonly yes with appendfsync always, and warns otherwise', async () => {
      const logger = recordingLogger();
      const driver = await createRedisDriver({ url: REDIS_URL, keyPrefix: uniquePrefix(), logger });
      opened.push(driver);
      const [, appendonly] = (await admin.config('GET', 'appendonly')) as string[];
      const [, fsync] = (await admin.config('GET', 'appendfsync')) as string[];
      const durable = appendonly === 'yes' && fsync === 'always';
      assert.equal(driver.capabilities.has('DURABILITY'), durable);
      for (const c of ['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT'] as const) assert.ok(driver.capabilities.has(c));
      assert.equal(driver.kind, 'redis');
      if (durable) assert.deepEqual(logger.warnings, []);
      else assert.match(logger.warnings.join('\n'), /does not declare DURABILITY/);
    });

    it('an unreachable Redis is a StorageUnavailableError, quickly', async () => {
      const port = await freePort();
      const started = Date.now();
      await rejectsWith(
        createRedisDriver({ url: `redis://127.0.0.1:${port}`, logger: silentLogger, connectTimeoutMs: 1000 }),
        StorageUnavailableError,
      );
      // The open gives up after the connect timeout (1 s); 30 s would be a hang, on any machine.
      assert.ok(Date.now() - started < 30_000, `refused only after ${Date.now() - started} ms: the open hung`);
    });

    it('bad options are InvalidArgumentError before anything is opened', async () => {
      await rejectsWith(createRedisDriver({ url: 'redis://h:1/x' }), InvalidArgumentError, (e) =>
        assert.equal(e.field, 'url'),
      );
      await rejectsWith(createRedisDriver({ url: REDIS_URL, nodes: ['a:1'] }), InvalidArgumentError);
      await rejectsWith(createRedisDriver({ nodes: ['no-port'] }), InvalidArgumentError, (e) =>
        assert.equal(e.field, 'nodes[0]'),
      );
      await rejectsWith(createRedisDriver({ url: REDIS_URL, keyPrefix: 'a{b' }), InvalidArgumentError);
      await rejectsWith(createRedisDriver({ url: REDIS_URL, commandTimeoutMs: 0 }), InvalidArgumentError);
    });

    it('a deleted queue leaves no key behind, even one of many messages deleted in batches', async () => {
      const { driver, keyPrefix } = await open();
      const body = Array.from({ length: 100 }, (_, i) => ({ body: { i } }));
      for (let i = 0; i < 12; i++) await driver.messages.post('p', 'big', body, 'c');
      await driver.claims.create('p', 'big', { limit: 5 });
      await driver.subscriptions.create('p', 'big', 'http://h.test/');
      await driver.queues.create('p', 'kept');
      await driver.queues.delete('p', 'big');
      assert.equal(await driver.queues.exists('p', 'big'), false);
      const left = await listKeys(admin, keyPrefix);
      assert.deepEqual(
        left.sort(),
        [`${keyPrefix}projects`, `${keyPrefix}{p}:q:kept`, `${keyPrefix}{p}:queues`].sort(),
        'only the other queue and the indexes remain',
      );
    });

    it('gc finishes a queue delete that a crashed process left half done', async () => {
      const { driver, keyPrefix } = await open();
      await driver.messages.post(
        'p',
        'q',
        Array.from({ length: 30 }, (_, i) => ({ body: i })),
        'c',
      );
      // What the delete script leaves when its process dies before purging: ids in a trash set.
      const base = `${keyPrefix}{p}:q:q`;
      const trash = `${keyPrefix}{p}:trash:crashed`;
      await admin.rename(`${base}:ids`, trash);
      await admin.hset(`${keyPrefix}{p}:trash`, trash, base);
      await admin.del(base, `${keyPrefix}{p}:queues`);
      assert.equal(await countKeys(admin, `${base}:m:`), 30);
      await driver.gc();
      assert.equal(await countKeys(admin, `${base}:m:`), 0);
      assert.equal(await admin.exists(trash, `${keyPrefix}{p}:trash`), 0);
    });

    it('a message held by a claim that expired is claimed again in FIFO order before newer ones', async () => {
      const { driver, clock } = await open();
      const ids = await driver.messages.post('p', 'q', [{ body: 1 }, { body: 2 }, { body: 3 }], 'c');
      const first = await driver.claims.create('p', 'q', { limit: 1, ttl: 60 });
      assert.deepEqual(
        first?.messages.map((m) => m.id),
        ids.slice(0, 1),
      );
      const second = await driver.claims.create('p', 'q', { limit: 1, ttl: 120 });
      assert.deepEqual(
        second?.messages.map((m) => m.id),
        ids.slice(1, 2),
      );
      clock.advance(60_000);
      const again = await driver.claims.create('p', 'q', { limit: 5 });
      assert.deepEqual(
        again?.messages.map((m) => m.id),
        [ids[0], ids[2]],
      );
    });

    it('the ready set, the claimed set and the messages stay consistent under concurrent claims, deletes and releases', async () => {
      const { driver, clock, keyPrefix } = await open();
      const posted = await driver.messages.post(
        'p',
        'q',
        Array.from({ length: 200 }, (_, i) => ({ body: i })),
        'c',
      );
      const deleted = new Set<string>();
      const seen = new Map<string, string>();
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          let releases = 0;
          for (;;) {
            const claim = await driver.claims.create('p', 'q', { limit: 7 });
            if (!claim) return;
            for (const m of claim.messages) {
              assert.equal(seen.get(m.id), undefined, `message ${m.id} handed out twice`);
              seen.set(m.id, claim.id);
            }
            // A third of the workers hand their first claims back, so messages go round again.
            if (w % 3 === 0 && releases++ < 3) {
              await driver.claims.delete('p', 'q', claim.id);
              for (const m of claim.messages) seen.delete(m.id);
            } else {
              for (const m of claim.messages) {
                await driver.messages.delete('p', 'q', m.id, { claimId: claim.id });
                deleted.add(m.id);
              }
            }
          }
        }),
      );
      assert.deepEqual(new Set(posted), deleted, 'every message was deleted exactly once in the end');
      clock.advance(1000);
      const base = `${keyPrefix}{p}:q:q`;
      for (const set of ['ids', 'ready', 'delayed', 'claimed', 'exp']) {
        assert.equal(await admin.zcard(`${base}:${set}`), 0, `${set} is empty`);
      }
      assert.equal(await countKeys(admin, `${base}:m:`), 0);
    });
  });
});

const binaries = await redisBinariesPresent();

suiteNeeding('redis: claims without rescans (own server)', binaries ? null : 'redis-server is not installed', () => {
  let server: RedisServer;
  let admin: Redis;
  let driver: DataDriver;
  const clock = new FakeClock();
  before(async () => {
    server = await RedisServer.start([], 'scan');
    admin = new Redis(server.url);
    driver = await createRedisDriver({ url: server.url, clock, logger: silentLogger });
  });
  after(async () => {
    await driver?.close();
    await admin?.quit();
    await server?.stop();
  });

  it('a claim does not rescan claimed messages: its cost stays flat as claimed messages pile up at the head', async () => {
    const project = 'scan';
    const batch = Array.from({ length: 20 }, (_, i) => ({ body: i }));
    for (let i = 0; i < 150; i++) await driver.messages.post(project, 'q', batch, 'c');
    // Count the Redis commands each claim's script runs, from Redis's own statistics.
    const callsPerClaim = async () => {
      await admin.config('RESETSTAT');
      const claim = await driver.claims.create(project, 'q', { limit: 20, ttl: 600 });
      assert.equal(claim?.messages.length, 20);
      const stats = await admin.info('commandstats');
      // Every command the script ran, less the EVALSHA itself.
      let total = 0;
      for (const m of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
        if (!['evalsha', 'eval', 'config', 'info'].includes(m[1] as string)) total += Number(m[2]);
      }
      return total;
    };
    const early = await callsPerClaim();
    for (let i = 0; i < 100; i++) await driver.claims.create(project, 'q', { limit: 20, ttl: 600 });
    const late = await callsPerClaim();
    // The same work as the first claim's, exactly: the claimed messages are never looked at.
    assert.equal(late, early, `a claim behind 2000 claimed messages ran ${late} commands, the first ran ${early}`);
    clock.advance(601_000);
    const stats = await driver.queues.stats(project, 'q');
    assert.equal(stats.claimed, 0);
    assert.equal(stats.total, 3000);
  });
});

// Keep the port helper honest: a port it hands out is one nothing listens on.
describe('redis test support', () => {
  it('freePort hands out a port nobody answers on', async () => {
    assert.equal(await redisAnswers(`redis://127.0.0.1:${await freePort()}`), false);
  });
});
