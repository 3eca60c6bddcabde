import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import { loadServerConfig, type RunningServer as QueueServer, startQueueServer } from '../../src/server/index.js';
import { RedisServer, redisBinariesPresent, suiteNeeding } from '../store/redis/support.js';

/**
 * A pool that goes away while the server runs: its queues answer 503 with Zaqar's body, the other
 * queues keep working, health shows it, and when the pool is back everything works again by
 * itself — with nothing acknowledged lost, the pool being a Redis with appendfsync always. The
 * Redis is this test's own (started and SIGKILLed here), never the shared one.
 */

const TOKEN = 'outage-test-admin-token-0123456789';
const HEADERS = {
  'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
  'x-project-id': 'outage',
  'content-type': 'application/json',
  'x-admin-token': TOKEN,
};

async function call(url: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown) {
  const started = Date.now();
  const response = await request(`${url}${path}`, {
    method,
    headers: HEADERS,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    json: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
    ms: Date.now() - started,
  };
}

/** Polls until `probe` answers; 60 s is a deadline for a busy machine. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const reason = (await redisBinariesPresent()) ? null : 'redis-server is not installed';

suiteNeeding('pool: a pool that goes away and comes back', reason, () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-outage-'));
  let redis: RedisServer | undefined;
  const servers: QueueServer[] = [];
  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(): Promise<QueueServer> {
    writeFileSync(
      join(dir, 'posthorn.toml'),
      `port = 0\nws_port = 0\ndata = "${join(dir, 'data')}"\n[pooling]\n[admin]\ntoken = "${TOKEN}"\n`,
    );
    const server = await startQueueServer(loadServerConfig({ env: {}, cwd: dir }), pino({ level: 'silent' }));
    servers.push(server);
    return server;
  }

  it('answers 503 for its queues only, and recovers by itself with nothing acknowledged lost', {
    timeout: 300_000,
  }, async () => {
    redis = await RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always'], 'outage');
    let server = await serve();
    assert.equal((await call(server.url, 'PUT', '/v2/pools/red', { uri: redis.url, weight: 1 })).status, 201);
    assert.equal((await call(server.url, 'PUT', '/v2/flavors/redis', { pool_list: ['red'] })).status, 201);
    assert.equal((await call(server.url, 'PUT', '/v2/queues/onred', { _flavor: 'redis' })).status, 201);
    assert.equal((await call(server.url, 'PUT', '/v2/queues/local')).status, 201);
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) {
      const posted = await call(server.url, 'POST', '/v2/queues/onred/messages', { messages: [{ body: i }] });
      assert.equal(posted.status, 201);
      acked.push(i);
    }

    await redis.kill('SIGKILL');
    const down = await call(server.url, 'POST', '/v2/queues/onred/messages', { messages: [{ body: 'lost?' }] });
    assert.equal(down.status, 503);
    assert.equal(down.json.title, 'Service temporarily unavailable');
    assert.match(String(down.json.description), /Please try again in a few seconds\.$/);
    assert.ok(down.headers['retry-after']);
    // Refused, not hung: the pool's driver gives up after its command timeout (5 s) plus a second.
    assert.ok(down.ms < 30_000, `the refusal took ${down.ms} ms: it hung`);
    assert.equal((await call(server.url, 'GET', '/v2/queues/onred/stats')).status, 503);
    // The other queues keep working.
    assert.equal(
      (await call(server.url, 'POST', '/v2/queues/local/messages', { messages: [{ body: 'x' }] })).status,
      201,
    );
    assert.equal((await call(server.url, 'GET', '/v2/queues/local/stats')).status, 200);
    const health = await call(server.url, 'GET', '/v2/health');
    assert.equal((health.json.red as { storage_reachable: boolean }).storage_reachable, false);
    assert.equal((health.json.default as { storage_reachable: boolean }).storage_reachable, true);
    assert.equal((await call(server.url, 'GET', '/v2/ping')).status, 503);

    await redis.restart();
    // Probed with reads: a post that failed while the driver reconnects may still have been
    // applied, which would leave an unacknowledged copy of the message behind.
    await until('the pool to answer again', async () => {
      const read = await call(server.url, 'GET', '/v2/queues/onred/stats');
      return read.status === 200 ? read : undefined;
    });
    const posted = await call(server.url, 'POST', '/v2/queues/onred/messages', { messages: [{ body: 20 }] });
    assert.equal(posted.status, 201, JSON.stringify(posted.json));
    acked.push(20);

    // A server started while the pool is down starts all the same and takes the pool when it is back.
    await server.close();
    await redis.kill('SIGKILL');
    server = await serve();
    assert.equal((await call(server.url, 'GET', '/v2/queues/onred/stats')).status, 503);
    assert.equal((await call(server.url, 'GET', '/v2/queues/local/stats')).status, 200);
    await redis.restart();
    const stats = await until('the pool after a start without it', async () => {
      const read = await call(server.url, 'GET', '/v2/queues/onred/stats');
      return read.status === 200 ? read : undefined;
    });
    assert.equal((stats.json.messages as { total: number }).total, acked.length);
    const bodies: number[] = [];
    for (;;) {
      const claimed = await call(server.url, 'POST', '/v2/queues/onred/claims?limit=20', { ttl: 60 });
      if (claimed.status === 204) break;
      bodies.push(...(claimed.json.messages as { body: number }[]).map((m) => m.body));
    }
    assert.deepEqual(
      bodies.sort((a, b) => a - b),
      acked,
    );
  });
});
