import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { loadServerConfig, type RunningServer as QueueServer, startQueueServer } from '../../src/server/index.js';
import { DATABASE_URL, dropSchema, freshSchema, probePostgres } from '../store/postgres-support.js';
import { freePort, suiteNeeding } from '../store/redis/support.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const HEADERS = { 'client-id': '3381af92-2b9e-11e3-b191-71861300734c', 'x-project-id': 'admin-test' };

/** A server on a free port with the given configuration file (memory store: nothing on disk). */
async function serve(toml: string): Promise<{ server: QueueServer; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-admin-'));
  writeFileSync(join(dir, 'posthorn.toml'), `port = 0\nstore = "memory"\n${toml}`);
  const config = loadServerConfig({ env: {}, cwd: dir });
  const server = await startQueueServer(config, pino({ level: 'silent' }));
  return {
    server,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(
  url: string,
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'x-admin-token': TOKEN },
) {
  const response = await request(`${url}${path}`, {
    method,
    headers: { ...HEADERS, 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    json: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
  };
}

const postgresProblem = await probePostgres();

describe('pool: the admin API is off without pooling', () => {
  it('serves no /v2/pools, and queues as before', async () => {
    const { server, stop } = await serve('');
    try {
      assert.equal((await call(server.url, 'GET', '/v2/pools')).status, 404);
      assert.equal((await call(server.url, 'PUT', '/v2/queues/q')).status, 201);
      assert.equal(server.pooling, null);
    } finally {
      await stop();
    }
  });
});

suiteNeeding(
  'pool: the admin API (pools, flavors, health, moves)',
  postgresProblem === null ? null : `PostgreSQL at ${DATABASE_URL} is not reachable (${postgresProblem})`,
  () => {
    const schemas: string[] = [];
    after(async () => {
      for (const schema of schemas) await dropSchema(schema);
    });
    const postgresPool = () => {
      const schema = freshSchema('admin');
      schemas.push(schema);
      const url = new URL(DATABASE_URL);
      url.searchParams.set('schema', schema);
      return url.href;
    };

    it('answers only to the admin token, and not at all without one configured', async () => {
      const closed = await serve('[pooling]\n');
      try {
        const refused = await call(closed.server.url, 'GET', '/v2/pools');
        assert.equal(refused.status, 403);
        assert.match(String(refused.json.description), /admin API is disabled/);
      } finally {
        await closed.stop();
      }
      const { server, stop } = await serve(`[pooling]\n[admin]\ntoken = "${TOKEN}"\n`);
      try {
        assert.equal((await call(server.url, 'GET', '/v2/pools', undefined, {})).status, 403);
        const wrong = await call(server.url, 'GET', '/v2/pools', undefined, { 'x-admin-token': `${TOKEN}x` });
        assert.equal(wrong.status, 403);
        assert.equal(wrong.json.title, 'Not authorized');
        const put = await call(server.url, 'PUT', '/v2/pools/m1', { uri: 'memory://', weight: 1 }, {});
        assert.equal(put.status, 403);
        assert.equal((await call(server.url, 'GET', '/v2/pools')).status, 200);
        assert.equal((await call(server.url, 'GET', '/v2/pools/m1')).status, 404, 'the refused PUT registered nothing');
      } finally {
        await stop();
      }
    });

    it("speaks Zaqar's pools and flavors: shapes, codes, listings, capability checks", async () => {
      const { server, stop } = await serve(`[pooling]\n[admin]\ntoken = "${TOKEN}"\n`);
      const url = server.url;
      try {
        const created = await call(url, 'PUT', '/v2/pools/m1', { uri: 'memory://', weight: 100 });
        assert.equal(created.status, 201);
        assert.equal(created.headers.location, '/v2/pools/m1');
        assert.equal((await call(url, 'PUT', '/v2/pools/m1', { uri: 'memory://', weight: 1 })).status, 409);
        const malformed = await call(url, 'PUT', '/v2/pools/bad', { uri: 'redis://host:99999', weight: 1 });
        assert.equal(malformed.status, 400);
        const port = await freePort();
        const unreachable = await call(url, 'PUT', '/v2/pools/bad', {
          uri: `postgres://127.0.0.1:${port}/none?connect_timeout=2`,
          weight: 1,
        });
        assert.equal(unreachable.status, 400);
        assert.match(String(unreachable.json.description), /cannot connect/);
        for (const body of [
          { uri: 'memory://' },
          { uri: 'memory://', weight: 'x' },
          { uri: 'memory://', weight: 1, x: 1 },
        ]) {
          assert.equal((await call(url, 'PUT', '/v2/pools/bad', body)).status, 400, JSON.stringify(body));
        }
        assert.equal((await call(url, 'GET', '/v2/pools/bad')).status, 404, 'nothing registered by refusals');

        await call(url, 'PUT', '/v2/pools/m2', { uri: 'memory://', weight: 0, options: { note: 'spare' } });
        assert.equal((await call(url, 'PUT', '/v2/pools/pg', { uri: postgresPool(), weight: 0 })).status, 201);
        const one = await call(url, 'GET', '/v2/pools/m2');
        assert.equal(one.status, 200);
        assert.deepEqual(
          { ...one.json, capabilities: undefined },
          { name: 'm2', uri: 'memory://', weight: 0, flavor: null, href: '/v2/pools/m2', capabilities: undefined },
        );
        assert.deepEqual((await call(url, 'GET', '/v2/pools/m2?detailed=true')).json.options, { note: 'spare' });

        const page = await call(url, 'GET', '/v2/pools?limit=2');
        const pools = page.json.pools as { name: string; href: string }[];
        assert.deepEqual(
          pools.map((p) => p.name),
          ['m1', 'm2'],
        );
        const links = page.json.links as { rel: string; href: string }[];
        assert.equal(links[0]?.rel, 'next');
        const rest = await call(url, 'GET', links[0]?.href as string);
        assert.deepEqual(
          (rest.json.pools as { name: string }[]).map((p) => p.name),
          ['pg'],
        );
        const end = await call(url, 'GET', ((rest.json.links as { href: string }[])[0] as { href: string }).href);
        assert.deepEqual(end.json, { pools: [], links: [] });
        assert.equal((await call(url, 'GET', '/v2/pools?limit=0')).status, 400);

        const patched = await call(url, 'PATCH', '/v2/pools/m2', { weight: 5 });
        assert.equal(patched.status, 200);
        assert.equal(patched.json.weight, 5);
        assert.equal((await call(url, 'PATCH', '/v2/pools/m2', {})).status, 400);
        assert.equal((await call(url, 'PATCH', '/v2/pools/ghost', { weight: 1 })).status, 404);

        // Flavors: pools must share their capabilities (memory has no DURABILITY; PostgreSQL has).
        const mixed = await call(url, 'PUT', '/v2/flavors/mixed', { pool_list: ['m1', 'pg'] });
        assert.equal(mixed.status, 400);
        assert.match(String(mixed.json.description), /DURABILITY/);
        assert.equal((await call(url, 'PUT', '/v2/flavors/fast', { pool_list: ['m1', 'm2'] })).status, 201);
        assert.equal((await call(url, 'PUT', '/v2/flavors/fast', { pool_list: ['m1'] })).status, 409);
        const flavor = await call(url, 'GET', '/v2/flavors/fast');
        assert.deepEqual(flavor.json.pool_list, ['m1', 'm2']);
        assert.deepEqual(flavor.json.capabilities, ['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT']);
        assert.equal(flavor.json.href, '/v2/flavors/fast');
        const joining = await call(url, 'PATCH', '/v2/pools/pg', { flavor: 'fast' });
        assert.equal(joining.status, 400);
        assert.equal(joining.json.title, 'Unable to create pool');
        const inUse = await call(url, 'DELETE', '/v2/pools/m2');
        assert.equal(inUse.status, 403);
        assert.equal(inUse.json.title, 'Unable to delete');
        const listed = await call(url, 'GET', '/v2/flavors?detailed=true');
        assert.deepEqual(
          (listed.json.flavors as { name: string; capabilities: string[] }[]).map((f) => [
            f.name,
            f.capabilities.length,
          ]),
          [['fast', 4]],
        );

        // A queue of a flavor lands in a pool of it; an unknown flavor is a 400.
        assert.equal((await call(url, 'PUT', '/v2/queues/quick', { _flavor: 'fast' }, {})).status, 201);
        // The flavor's pools m1 and m2 share its queues by weight: either may take it, no other.
        const placed = await server.pooling?.catalog.route('admin-test', 'quick');
        assert.ok(placed?.pool === 'm1' || placed?.pool === 'm2', `placed in ${placed?.pool}`);
        const unknown = await call(url, 'PUT', '/v2/queues/odd', { _flavor: 'nope' }, {});
        assert.equal(unknown.status, 400);
        assert.match(String(unknown.json.description), /no flavor named/);

        // Health is private: refused without the admin token, answered with it.
        assert.equal((await call(url, 'GET', '/v2/health', undefined, {})).status, 403);
        const health = await call(url, 'GET', '/v2/health');
        assert.equal(health.status, 200);
        assert.equal(health.json.catalog_reachable, true);
        for (const pool of ['default', 'm1', 'm2', 'pg']) {
          const report = health.json[pool] as { storage_reachable: boolean; operation_status: object };
          assert.equal(report?.storage_reachable, true, pool);
          assert.ok(Object.keys(report.operation_status).length >= 8, pool);
        }

        const narrowed = await call(url, 'PATCH', '/v2/flavors/fast', { pool_list: ['m1'] });
        assert.deepEqual(narrowed.json.pool_list, ['m1']);
        assert.equal((await call(url, 'DELETE', '/v2/pools/m2')).status, 204);
        assert.equal((await call(url, 'DELETE', '/v2/flavors/fast')).status, 204);
        assert.equal((await call(url, 'GET', '/v2/flavors/fast')).status, 404);
        assert.equal((await call(url, 'GET', '/v2/pools/m1')).json.flavor, null);
      } finally {
        await stop();
      }
    });

    it('moves a queue through POST /v2/queues/{queue}/move and reports its progress', async () => {
      const { server, stop } = await serve(
        `[pooling]\ncache_seconds = 0.1\nsettle_seconds = 0.1\n[admin]\ntoken = "${TOKEN}"\n`,
      );
      const url = server.url;
      try {
        await call(url, 'PUT', '/v2/pools/pg', { uri: postgresPool(), weight: 0 });
        await call(url, 'POST', '/v2/queues/mail/messages', { messages: [{ body: 1 }, { body: 2 }] }, {});
        assert.equal((await call(url, 'GET', '/v2/queues/mail/move')).status, 404);
        assert.equal((await call(url, 'POST', '/v2/queues/mail/move', { pool: 'pg' }, {})).status, 403);
        assert.equal((await call(url, 'POST', '/v2/queues/mail/move', { pool: 'nope' })).status, 404);
        assert.equal((await call(url, 'POST', '/v2/queues/mail/move', { to: 'pg' })).status, 400);
        const started = await call(url, 'POST', '/v2/queues/mail/move', { pool: 'pg' });
        assert.equal(started.status, 202);
        assert.equal(started.headers.location, '/v2/queues/mail/move');
        assert.equal(started.json.from, 'default');
        assert.equal(started.json.to, 'pg');
        let status: Record<string, unknown> = started.json;
        const deadline = Date.now() + 90_000; // a deadline for a busy machine
        while (status.status === 'running' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          status = (await call(url, 'GET', '/v2/queues/mail/move')).json;
        }
        assert.equal(status.status, 'done', String(status.error));
        assert.equal(status.copied, 2);
        assert.deepEqual(await server.pooling?.catalog.route('admin-test', 'mail'), { pool: 'pg' });
        const claimed = await call(url, 'POST', '/v2/queues/mail/claims', { ttl: 60 }, {});
        assert.deepEqual(
          (claimed.json.messages as { body: number }[]).map((m) => m.body),
          [1, 2],
        );
      } finally {
        await stop();
      }
    });
  },
);
