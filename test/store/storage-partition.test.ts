/**
 * A store behind a network partition: a proxy in front of the real PostgreSQL or Redis stops
 * forwarding while keeping every socket open, so no error ever arrives — only silence. A call in
 * flight and a call made during the partition must both fail with StorageUnavailableError once
 * the configured timeout has passed (not before, and not after the half minute the PostgreSQL
 * driver used to wait), write nothing, and once the link heals the same driver works by itself.
 *
 * "Not before" is checked against a timer of the timeout's length armed just before the call (the
 * driver's own timer starts later, so it cannot fire first); the upper bound is the old 30 s
 * default the issue measured, never a guess at how fast this machine is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { StorageUnavailableError, silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver, DEFAULT_POSTGRES_QUERY_TIMEOUT_MS } from '../../src/store/postgres/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { PartitionProxy } from './partition-proxy.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';
import { deleteKeys, REDIS_URL, redisAnswers, suiteNeeding, uniquePrefix } from './redis/support.js';

/** The timeout the partition tests configure. */
const TIMEOUT_MS = 500;
/** What the PostgreSQL driver waited before (pg's query_timeout default of the time): a call this slow hung. */
const OLD_DEFAULT_MS = 30_000;
/** How long the healed store may take to answer again, on a busy machine. */
const DEADLINE_MS = 60_000;

interface Failure {
  error: unknown;
  ms: number;
  /** Whether a timer of `timeoutMs` armed just before the call had fired when it failed. */
  timeoutPassed: boolean;
}

/** Runs `call`, expecting it to fail; says how long it took and whether `timeoutMs` had passed. */
async function failure(call: () => Promise<unknown>, timeoutMs: number): Promise<Failure> {
  let timeoutPassed = false;
  const reference = setTimeout(() => {
    timeoutPassed = true;
  }, timeoutMs);
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    clearTimeout(reference);
    return { error, ms: Date.now() - started, timeoutPassed };
  }
  clearTimeout(reference);
  throw new Error('the call succeeded behind a partition');
}

/**
 * `early` is allowed for a call that shares a connection with one already timing out: when that
 * one gives up, the connection is dropped and the calls on it fail with it, sooner than their own
 * timeout (which is right: the connection is broken).
 */
function assertPrompt(what: string, f: Failure, timeoutMs: number, early = false): void {
  assert.ok(
    f.error instanceof StorageUnavailableError,
    `${what}: expected StorageUnavailableError, got ${String(f.error)}`,
  );
  if (!early) {
    assert.ok(f.timeoutPassed, `${what} failed after ${f.ms} ms, before its ${timeoutMs} ms timeout had passed`);
  }
  assert.ok(f.ms < OLD_DEFAULT_MS, `${what} failed only after ${f.ms} ms: it hung`);
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function bodies(driver: DataDriver, project: string): Promise<unknown[]> {
  const page = await driver.messages.list(project, 'q', { echo: true, limit: 20 });
  return page.messages.map((m) => m.body);
}

/**
 * The shared scenario: post, partition, an in-flight post and then a new post and a read fail
 * promptly, nothing is written; heal, and the driver works again.
 */
async function partitionScenario(
  open: () => Promise<DataDriver>,
  proxy: PartitionProxy,
  timeoutMs: number,
  report: (line: string) => void,
): Promise<void> {
  const driver = await open();
  try {
    const project = `part-${Date.now()}`;
    await driver.queues.create(project, 'q');
    await driver.messages.post(project, 'q', [{ body: 'before' }], 'c');

    proxy.partition();
    const inFlight = failure(() => driver.messages.post(project, 'q', [{ body: 'in flight' }], 'c'), timeoutMs);
    // Let the in-flight post reach the (silent) wire before the next calls are made.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [first, later, read] = await Promise.all([
      inFlight,
      failure(() => driver.messages.post(project, 'q', [{ body: 'during' }], 'c'), timeoutMs),
      failure(() => driver.messages.list(project, 'q', { echo: true }), timeoutMs),
    ]);
    // A call made once the first failures are in: the broken connections are gone by now.
    const fresh = await failure(() => driver.messages.post(project, 'q', [{ body: 'fresh' }], 'c'), timeoutMs);
    assertPrompt('the post in flight', first, timeoutMs);
    assertPrompt('a post made during the partition', later, timeoutMs, true);
    assertPrompt('a read made during the partition', read, timeoutMs, true);
    // Early is right here too: a driver that knows its connection is down (Redis reconnecting)
    // fails at once rather than queue the call.
    assertPrompt('a post made after the first failures', fresh, timeoutMs, true);
    report(`failed after ${first.ms}, ${later.ms}, ${read.ms} and ${fresh.ms} ms (timeout ${timeoutMs} ms)`);

    await proxy.heal();
    // Probed with reads, so that no post is retried into the store behind the test's back.
    await until('the store to answer after the partition', async () => (await bodies(driver, project)).length > 0);
    assert.deepEqual(await bodies(driver, project), ['before'], 'nothing refused during the partition was written');
    await driver.messages.post(project, 'q', [{ body: 'after' }], 'c');
    assert.deepEqual(await bodies(driver, project), ['before', 'after']);
  } finally {
    await proxy.heal();
    await driver.close();
  }
}

/**
 * A partition that holds bytes and delivers them when it heals, as TCP does: a call that failed
 * with a timeout must not then run when the link is back — its client was told it failed.
 */
async function lateDeliveryScenario(
  open: () => Promise<DataDriver>,
  proxy: PartitionProxy,
  timeoutMs: number,
): Promise<void> {
  const driver = await open();
  try {
    const project = `late-${Date.now()}`;
    await driver.queues.create(project, 'q');
    await driver.messages.post(project, 'q', [{ body: 'before' }], 'c');
    proxy.partition('hold');
    const f = await failure(() => driver.messages.post(project, 'q', [{ body: 'timed out' }], 'c'), timeoutMs);
    assertPrompt('a post behind a holding partition', f, timeoutMs);
    await proxy.heal();
    await until('the store to answer after the partition', async () => (await bodies(driver, project)).length > 0);
    await proxy.settled();
    assert.deepEqual(await bodies(driver, project), ['before'], 'the post that timed out did not run later');
  } finally {
    await proxy.heal();
    await driver.close();
  }
}

const postgresTarget = new URL(DATABASE_URL);

await withPostgres('postgres behind a partition', () => {
  describe('postgres behind a partition', () => {
    const schema = freshSchema('partition');
    let proxy: PartitionProxy;
    before(async () => {
      proxy = await PartitionProxy.start(postgresTarget.hostname, Number(postgresTarget.port || 5432));
    });
    after(async () => {
      await proxy?.close();
      await dropSchema(schema);
    });
    const urlThroughProxy = (query: string) => {
      const url = new URL(DATABASE_URL);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      url.search = `?schema=${schema}${query}`;
      return url.href;
    };

    it('calls fail with StorageUnavailableError after the URI’s query_timeout, write nothing, and work again after', async (t) => {
      await partitionScenario(
        () =>
          createPostgresDriver({
            url: urlThroughProxy(`&query_timeout=${TIMEOUT_MS}&connect_timeout=1`),
            logger: { warn: () => {} },
          }),
        proxy,
        TIMEOUT_MS,
        (line) => t.diagnostic(line),
      );
    });

    it('a post that timed out does not run when the link heals and delivers what it held', async () => {
      await lateDeliveryScenario(
        () =>
          createPostgresDriver({
            url: urlThroughProxy(`&query_timeout=${TIMEOUT_MS}&connect_timeout=1`),
            logger: { warn: () => {} },
          }),
        proxy,
        TIMEOUT_MS,
      );
    });

    it('by default a call gives up after a few seconds, not half a minute', async (t) => {
      assert.ok(DEFAULT_POSTGRES_QUERY_TIMEOUT_MS <= 10_000, 'the default is a few seconds');
      const driver = await createPostgresDriver({ url: urlThroughProxy(''), logger: { warn: () => {} } });
      try {
        await driver.queues.create('default', 'q');
        proxy.partition();
        const f = await failure(
          () => driver.messages.list('default', 'q', { echo: true }),
          DEFAULT_POSTGRES_QUERY_TIMEOUT_MS,
        );
        assertPrompt('a read with the default timeout', f, DEFAULT_POSTGRES_QUERY_TIMEOUT_MS);
        t.diagnostic(`failed after ${f.ms} ms (default ${DEFAULT_POSTGRES_QUERY_TIMEOUT_MS} ms)`);
      } finally {
        await proxy.heal();
        await driver.close();
      }
    });
  });
});

const redisTarget = new URL(REDIS_URL);
const redisReason = (await redisAnswers(REDIS_URL)) ? null : `no Redis answers at ${REDIS_URL}`;

suiteNeeding('redis behind a partition', redisReason, () => {
  let proxy: PartitionProxy;
  const prefix = uniquePrefix();
  before(async () => {
    proxy = await PartitionProxy.start(redisTarget.hostname, Number(redisTarget.port || 6379));
  });
  after(async () => {
    await proxy?.close();
    const admin = new Redis(REDIS_URL);
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  it('calls fail with StorageUnavailableError after the URI’s command_timeout, write nothing, and work again after', async (t) => {
    const url = `redis://127.0.0.1:${proxy.port}?prefix=${encodeURIComponent(prefix)}&command_timeout=${TIMEOUT_MS}&connect_timeout=1`;
    await partitionScenario(
      () => createRedisDriver({ url, logger: silentLogger }),
      proxy,
      TIMEOUT_MS,
      (line) => t.diagnostic(line),
    );
  });

  it('a post that timed out does not run when the link heals and delivers what it held', async () => {
    const url = `redis://127.0.0.1:${proxy.port}?prefix=${encodeURIComponent(prefix)}&command_timeout=${TIMEOUT_MS}&connect_timeout=1`;
    await lateDeliveryScenario(() => createRedisDriver({ url, logger: silentLogger }), proxy, TIMEOUT_MS);
  });
});
