import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { request } from 'undici';
import { silentLogger } from '../../src/core/index.js';
import { ManagementStore, openPoolDriver } from '../../src/pool/index.js';
import { type ServeProcess, startServeProcess } from '../interop/serve-process.js';
import { parseMetrics, sampleValue } from '../server/metrics/prometheus-text.js';
import { DATABASE_URL, probePostgres } from '../store/postgres-support.js';
import { REDIS_URL, redisAnswers, suiteNeeding } from '../store/redis/support.js';
import { call, Ledger, Resources, runCli, TOKEN, writeConfig } from './processes.js';
import { POOL_LIMITS } from './support.js';

/**
 * Many servers, one truth: `posthorn serve` processes sharing a PostgreSQL catalogue and Redis and
 * PostgreSQL pools serve the same queues — a message posted through one is claimed through another,
 * never twice — and `posthorn serve --workers 2` serves from two processes on one port, refused
 * when a store could not be shared.
 */

const postgresProblem = await probePostgres();
const reason =
  postgresProblem !== null
    ? `PostgreSQL at ${DATABASE_URL} is not reachable (${postgresProblem})`
    : !(await redisAnswers(REDIS_URL))
      ? `Redis at ${REDIS_URL} is not reachable`
      : null;

suiteNeeding('pool: many servers, one truth', reason, () => {
  const resources = new Resources();
  const processes: ServeProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop('SIGKILL').catch(() => {});
    await resources.cleanup();
  });

  it('two servers on different ports share queues in Redis and PostgreSQL pools: posted through one, claimed through the other, once', {
    timeout: 120_000,
  }, async () => {
    const catalog = resources.postgres('cat');
    const settings = {
      catalog,
      pools: [
        { name: 'red', uri: resources.redis(), weight: 1 },
        { name: 'pg', uri: resources.postgres('pool'), weight: 1 },
      ],
    };
    const [a, b] = await Promise.all(
      ['a', 'b'].map((label) => startServeProcess(['--config', writeConfig(resources.dir(label), settings)])),
    );
    processes.push(a as ServeProcess, b as ServeProcess);
    const one = (a as ServeProcess).url;
    const two = (b as ServeProcess).url;
    assert.notEqual(one, two);

    // Both registered the configured pools once between them.
    const pools = await call(two, 'GET', '/v2/pools');
    assert.deepEqual(
      (pools.json.pools as { name: string }[]).map((p) => p.name),
      ['pg', 'red'],
    );

    // New queues go to a pool chosen at random by weight (1:1). Queues are made through one server
    // until the catalogue (in PostgreSQL) records both pools — at least six — so the load below
    // runs on queues in Redis and in PostgreSQL whatever the draws. 64 queues all in one pool
    // would mean placement ignores a pool (a fair draw does that with probability 2^-63).
    const management = await openPoolDriver(catalog, { limits: POOL_LIMITS, logger: silentLogger });
    const placed = new Map<string, string>();
    try {
      const store = new ManagementStore(management);
      for (let n = 0; n < 64 && (placed.size < 6 || new Set(placed.values()).size < 2); n++) {
        const queue = `q${n}`;
        assert.equal((await call(one, 'PUT', `/v2/queues/${queue}`)).status, 201);
        placed.set(queue, (await store.getRoute('procs', queue))?.pool ?? 'none');
      }
    } finally {
      await management.close();
    }
    assert.deepEqual([...new Set(placed.values())].sort(), ['pg', 'red'], JSON.stringify([...placed]));

    const queues = [...placed.keys()];
    const ledger = new Ledger();
    let producing = true;
    const producers = queues.map(async (queue, i) => {
      for (let k = 0; k < 15; k++) await ledger.post(k % 2 === i % 2 ? one : two, queue, 10);
    });
    const all = Promise.all(producers).finally(() => {
      producing = false;
    });
    const consumers = queues.flatMap((queue) => [
      ledger.consume(two, queue, () => !producing),
      ledger.consume(one, queue, () => !producing),
    ]);
    await all;
    await Promise.all(consumers);
    assert.equal(ledger.acked.size, 150 * queues.length);
    assert.deepEqual(ledger.check(), { twice: [], lost: [] });

    // A flavor made through one server places the other server's new queues.
    assert.equal((await call(one, 'PUT', '/v2/flavors/durable', { pool_list: ['pg'] })).status, 201);
    assert.equal((await call(two, 'PUT', '/v2/queues/kept', { _flavor: 'durable' })).status, 201);
    assert.equal((await call(one, 'POST', '/v2/queues/kept/messages', { messages: [{ body: 'x' }] })).status, 201);
    const claimed = await call(two, 'POST', '/v2/queues/kept/claims', { ttl: 60 });
    assert.deepEqual(
      (claimed.json.messages as { body: string }[]).map((m) => m.body),
      ['x'],
    );
    const health = await call(one, 'GET', '/v2/health');
    assert.deepEqual(Object.keys(health.json).sort(), ['catalog_reachable', 'pg', 'red']);
    for (const server of [a, b] as ServeProcess[]) assert.equal(await server.stop('SIGTERM'), 0);
  });

  it('serve --workers 2 serves from two processes on one port, and is refused when a store has one owner', {
    timeout: 120_000,
  }, async () => {
    const settings = {
      catalog: resources.postgres('wcat'),
      pools: [{ name: 'red', uri: resources.redis(), weight: 1 }],
    };
    const server = await startServeProcess([
      '--config',
      writeConfig(resources.dir('workers'), settings),
      '--workers',
      '2',
    ]);
    processes.push(server);
    // Both workers print their "serving" line; 60 s is a deadline for a busy machine, not a measure.
    const deadline = Date.now() + 60_000;
    const serving = () => [...server.output().matchAll(/"pid":(\d+)[^\n]*"msg":"posthorn serving"/g)].map((m) => m[1]);
    while (new Set(serving()).size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(new Set(serving()).size, 2, server.output());
    const ledger = new Ledger();
    let producing = true;
    const producer = (async () => {
      for (let k = 0; k < 20; k++) await ledger.post(server.url, 'shared', 10);
    })().finally(() => {
      producing = false;
    });
    const consumers = [0, 1, 2].map(() => ledger.consume(server.url, 'shared', () => !producing));
    await producer;
    await Promise.all(consumers);
    assert.deepEqual(ledger.check(), { twice: [], lost: [] });
    assert.equal(ledger.acked.size, 200);

    // GET /metrics reaches one worker but tells of both: the primary sums the workers' metrics.
    // Each request here has a connection of its own, which node:cluster hands to the workers in
    // turn, so each worker saw about half of them; either worker's own counts would be short.
    const fresh = { 'client-id': '6c1e3b40-2f0b-4a52-9d57-6f0a2c2b9b1e', 'x-project-id': 'procs' };
    for (let i = 0; i < 10; i++) {
      const posted = await request(`${server.url}/v2/queues/counted/messages`, {
        method: 'POST',
        reset: true,
        headers: { ...fresh, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ body: i, ttl: 300 }] }),
      });
      await posted.body.dump();
      assert.equal(posted.statusCode, 201);
    }
    for (let scrape = 0; scrape < 4; scrape++) {
      const answer = await request(`${server.url}/metrics`, { reset: true, headers: { 'x-admin-token': TOKEN } });
      const text = await answer.body.text();
      assert.equal(answer.statusCode, 200, text);
      const m = parseMetrics(text);
      const queue = { project: 'procs', queue: 'counted' };
      assert.equal(sampleValue(m, 'posthorn_messages_posted_total', queue), 10, `scrape ${scrape}`);
      assert.equal(sampleValue(m, 'posthorn_messages', { ...queue, state: 'free' }), 10, 'a depth is not summed');
      assert.equal(sampleValue(m, 'posthorn_pool_up', { pool: 'red' }), 1);
    }
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal((server.output().match(/"msg":"posthorn stopped"/g) ?? []).length, 2, 'each worker stops gracefully');

    const plain = await runCli(['serve', '--port', '0', '--workers', '2', '--data', resources.dir('disk')]);
    assert.equal(plain.code, 1);
    assert.match(plain.output, /--workers.*needs \[pooling\].*has one owner/s);
    const withDisk = writeConfig(resources.dir('diskpool'), {
      catalog: resources.postgres('dcat'),
      pools: [{ name: 'local', uri: `disk://${resources.dir('diskpooldata')}`, weight: 1 }],
    });
    const refused = await runCli(['serve', '--port', '0', '--workers', '2', '--config', withDisk]);
    assert.equal(refused.code, 1);
    assert.match(refused.output, /pool local is a disk pool, which has one owner/);
  });
});
