import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../../src/server/index.js';
import { freePort, RedisServer, redisBinariesPresent, suiteNeeding } from '../../store/redis/support.js';
import { zaqarHeaders } from '../serve-client.js';
import { type Family, parseMetrics, sampleValue } from './prometheus-text.js';

const ADMIN_TOKEN = 'metrics-test-admin-token-0123456789';

async function start(toml: string): Promise<{ server: RunningServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-metrics-'));
  writeFileSync(join(dir, 'posthorn.toml'), `port = 0\nws_port = 0\nlog_level = "silent"\n${toml}`);
  const server = await startQueueServer(loadServerConfig({ env: {}, cwd: dir }), pino({ level: 'silent' }));
  return { server, dir };
}

async function call(
  url: string,
  project: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
) {
  const response = await request(`${url}${path}`, {
    method,
    headers: zaqarHeaders(project),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

async function scrape(base: string, headers: Record<string, string> = {}) {
  const response = await request(`${base}/metrics`, { headers });
  const text = await response.body.text();
  return { status: response.statusCode, type: String(response.headers['content-type']), text };
}

async function metricsOf(base: string, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const answer = await scrape(base, headers);
  assert.equal(answer.status, 200, answer.text);
  assert.match(answer.type, /^text\/plain/);
  return parseMetrics(answer.text);
}

describe('server: GET /metrics', () => {
  let server: RunningServer;
  let dir: string;
  before(async () => {
    ({ server, dir } = await start('store = "memory"\nmetrics_max_queues = 3\n'));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts posts, claims and deletes exactly, and reads the depths at scrape time', async () => {
    const posted = await call(server.url, 'p1', 'POST', '/v2/queues/work/messages', {
      messages: [
        { ttl: 300, body: 1 },
        { ttl: 300, body: 2 },
        { ttl: 300, body: 3 },
      ],
    });
    assert.equal(posted.status, 201);
    const claim = await call(server.url, 'p1', 'POST', '/v2/queues/work/claims?limit=2', { ttl: 300, grace: 60 });
    assert.equal(claim.status, 201);
    assert.equal(claim.json.messages.length, 2);
    const first = claim.json.messages[0].href as string;
    assert.equal((await call(server.url, 'p1', 'DELETE', first.replace(/^.*?\/v2/, '/v2'))).status, 204);
    // A delayed message, so every state has a count.
    assert.equal(
      (
        await call(server.url, 'p1', 'POST', '/v2/queues/work/messages', {
          messages: [{ ttl: 300, delay: 600, body: 4 }],
        })
      ).status,
      201,
    );

    const m = await metricsOf(server.url);
    const q = { project: 'p1', queue: 'work' };
    assert.equal(sampleValue(m, 'posthorn_messages_posted_total', q), 4);
    assert.equal(sampleValue(m, 'posthorn_messages_claimed_total', q), 2);
    assert.equal(sampleValue(m, 'posthorn_messages_deleted_total', q), 1);
    assert.equal(sampleValue(m, 'posthorn_messages_expired_total', q), 0);
    assert.equal(sampleValue(m, 'posthorn_messages_dead_lettered_total', q), 0);
    // 4 posted, 1 deleted: 1 claimed still held, 1 free, 1 delayed.
    assert.equal(sampleValue(m, 'posthorn_messages', { ...q, state: 'claimed' }), 1);
    assert.equal(sampleValue(m, 'posthorn_messages', { ...q, state: 'free' }), 1);
    assert.equal(sampleValue(m, 'posthorn_messages', { ...q, state: 'delayed' }), 1);
    const age = sampleValue(m, 'posthorn_oldest_message_age_seconds', q);
    assert.ok(age !== undefined && age >= 0, String(age));
    assert.equal(sampleValue(m, 'posthorn_pool_up', { pool: 'default' }), 1);
    assert.equal(sampleValue(m, 'posthorn_queue_moves_in_progress'), 0);
    assert.equal(sampleValue(m, 'posthorn_notifications_pending'), 0);
    for (const outcome of ['delivered', 'retried', 'failed']) {
      assert.equal(sampleValue(m, 'posthorn_notifications_total', { outcome }), 0, outcome);
    }
    assert.equal(sampleValue(m, 'posthorn_spool_entries', { spool: 'notifications', state: 'frozen' }), 0);
    // The default process metrics.
    assert.ok(m.has('process_cpu_user_seconds_total'));
    assert.ok(m.has('nodejs_eventloop_lag_seconds'));
  });

  it('labels HTTP requests by route template, never by raw path', async () => {
    for (const name of ['alpha', 'beta']) {
      assert.equal((await call(server.url, 'p2', 'GET', `/v2/queues/${name}/stats`)).status, 200);
    }
    assert.equal((await call(server.url, 'p2', 'GET', '/no/such/path/xyz')).status, 404);
    // Refusals are counted under the route that refused them: a bad body, a method the path lacks.
    assert.equal((await call(server.url, 'p2', 'POST', '/v2/queues/alpha/messages', { messages: 'x' })).status, 400);
    assert.equal((await call(server.url, 'p2', 'PUT', '/v2/queues/alpha/stats')).status, 405);
    const m = await metricsOf(server.url);
    const requests = m.get('posthorn_http_requests_total');
    assert.ok(requests);
    const routes = new Set(requests.metrics.map((s) => s.labels.route));
    assert.ok(routes.has('/v2/queues/:name/stats'), [...routes].join(' '));
    for (const route of routes) {
      assert.doesNotMatch(String(route), /alpha|beta|xyz/, `a raw path in the route label: ${route}`);
    }
    assert.equal(
      sampleValue(m, 'posthorn_http_requests_total', { method: 'GET', route: '/v2/queues/:name/stats', status: '200' }),
      2,
    );
    assert.equal(sampleValue(m, 'posthorn_http_requests_total', { route: '_unmatched', status: '404' }), 1);
    assert.equal(
      sampleValue(m, 'posthorn_http_requests_total', {
        method: 'POST',
        route: '/v2/queues/:name/messages',
        status: '400',
      }),
      1,
    );
    assert.equal(
      sampleValue(m, 'posthorn_http_requests_total', { method: 'PUT', route: '/v2/queues/:name/stats', status: '405' }),
      1,
    );
    // The parser folds a labelled histogram's series into one: its type and buckets are what it tells.
    const duration = m.get('posthorn_http_request_duration_seconds');
    assert.equal(duration?.type, 'HISTOGRAM');
    assert.ok(Number(duration?.metrics[0]?.buckets?.['+Inf']) >= 1);
  });

  it('counts WebSocket actions by action', async () => {
    const ws = new WebSocket(server.wsUrl);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const answered = new Promise<number>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse(String(data)).headers.status)),
    );
    ws.send(
      JSON.stringify({
        action: 'queue_list',
        headers: { 'Client-ID': '3381af92-2b9e-11e3-b191-71861300734c', 'X-Project-ID': 'p3' },
        body: {},
      }),
    );
    assert.equal(await answered, 200);
    ws.close();
    const m = await metricsOf(server.url);
    assert.equal(
      sampleValue(m, 'posthorn_ws_requests_total', { action: 'queue_list', status: '200' }),
      1,
      JSON.stringify(m.get('posthorn_ws_requests_total')),
    );
    assert.equal(m.get('posthorn_ws_request_duration_seconds')?.type, 'HISTOGRAM');
  });

  it('reports at most metrics_max_queues queues and sums the rest into _other', async () => {
    // Depths 11..15 in project p4 (with p1's queue, 6 queues: 3 reported one by one, the deepest).
    for (let n = 1; n <= 5; n++) {
      const messages = Array.from({ length: 10 + n }, (_, i) => ({ ttl: 300, body: i }));
      assert.equal((await call(server.url, 'p4', 'POST', `/v2/queues/d${n}/messages`, { messages })).status, 201);
    }
    const m = await metricsOf(server.url);
    const family = m.get('posthorn_messages');
    assert.ok(family);
    const queues = new Set(family.metrics.map((s) => `${s.labels.project}/${s.labels.queue}`));
    assert.deepEqual([...queues].sort(), ['_other/_other', 'p4/d3', 'p4/d4', 'p4/d5']);
    // The rest: d1 + d2 (23 free) and p1/work (1 free, 1 claimed, 1 delayed); p2's queues are empty.
    assert.equal(sampleValue(m, 'posthorn_messages', { queue: '_other', state: 'free' }), 24);
    assert.equal(sampleValue(m, 'posthorn_messages', { queue: '_other', state: 'claimed' }), 1);
    assert.equal(sampleValue(m, 'posthorn_messages', { queue: '_other', state: 'delayed' }), 1);
    assert.equal(sampleValue(m, 'posthorn_messages', { project: 'p4', queue: 'd5', state: 'free' }), 15);
  });
});

describe('server: GET /metrics with an admin token or an auth strategy', () => {
  it('is for admins only when an admin token is configured', async () => {
    const { server, dir } = await start(`store = "memory"\n[admin]\ntoken = "${ADMIN_TOKEN}"\n`);
    try {
      const none = await scrape(server.url);
      assert.equal(none.status, 401);
      assert.deepEqual(Object.keys(JSON.parse(none.text)).sort(), ['description', 'title']);
      assert.equal((await scrape(server.url, { 'x-admin-token': 'wrong-token-wrong-token-wrong' })).status, 403);
      await metricsOf(server.url, { 'x-admin-token': ADMIN_TOKEN });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused to a token that is not an admin’s under the token strategy', async () => {
    const { server, dir } = await start(
      `store = "memory"\nauth_strategy = "token"\n[admin]\ntoken = "${ADMIN_TOKEN}"\n[token]\nsecret = "${'s'.repeat(40)}"\n`,
    );
    try {
      assert.equal((await scrape(server.url)).status, 401);
      assert.equal((await scrape(server.url, { authorization: 'Bearer not-a-token' })).status, 401);
      await metricsOf(server.url, { 'x-admin-token': ADMIN_TOKEN });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server: metrics_port and metrics = false', () => {
  it('serves /metrics on its own port and not on the HTTP port', async () => {
    const port = await freePort();
    const { server, dir } = await start(`store = "memory"\nhost = "127.0.0.1"\nmetrics_port = ${port}\n`);
    try {
      assert.equal(
        (await call(server.url, 'p', 'POST', '/v2/queues/q/messages', { messages: [{ body: 1 }] })).status,
        201,
      );
      assert.equal((await scrape(server.url)).status, 404);
      const m = await metricsOf(`http://127.0.0.1:${port}`);
      assert.equal(sampleValue(m, 'posthorn_messages_posted_total', { project: 'p', queue: 'q' }), 1);
      assert.equal((await request(`http://127.0.0.1:${port}/other`)).statusCode, 404);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 404 when metrics are off', async () => {
    const { server, dir } = await start('store = "memory"\nmetrics = false\n');
    try {
      assert.equal((await scrape(server.url)).status, 404);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const noRedis = (await redisBinariesPresent()) ? null : 'redis-server is not installed';

suiteNeeding('server: GET /metrics during a pool outage', noRedis, () => {
  it('answers 200 with the pool marked down (its Redis gone: a closed port)', { timeout: 120_000 }, async () => {
    const redis = await RedisServer.start([], 'metrics-outage');
    const { server, dir } = await start(`[pooling]\n[admin]\ntoken = "${ADMIN_TOKEN}"\n`);
    const admin = { 'x-admin-token': ADMIN_TOKEN };
    const adminCall = async (method: 'PUT', path: string, body: unknown) => {
      const answer = await request(`${server.url}${path}`, {
        method,
        headers: { ...zaqarHeaders('p'), ...admin },
        body: JSON.stringify(body),
      });
      return { status: answer.statusCode, text: await answer.body.text() };
    };
    try {
      const uri = `${redis.url}${redis.url.includes('?') ? '&' : '?'}command_timeout=1000&connect_timeout=1`;
      assert.equal((await adminCall('PUT', '/v2/pools/red', { uri, weight: 1 })).status, 201);
      assert.equal((await adminCall('PUT', '/v2/flavors/redis', { pool_list: ['red'] })).status, 201);
      assert.equal((await call(server.url, 'p', 'PUT', '/v2/queues/onred', { _flavor: 'redis' })).status, 201);
      assert.equal(
        (await call(server.url, 'p', 'POST', '/v2/queues/onred/messages', { messages: [{ body: 1 }] })).status,
        201,
      );
      assert.equal(
        (await call(server.url, 'p', 'POST', '/v2/queues/local/messages', { messages: [{ body: 1 }] })).status,
        201,
      );
      const up = await metricsOf(server.url, admin);
      assert.equal(sampleValue(up, 'posthorn_pool_up', { pool: 'red' }), 1);
      assert.equal(sampleValue(up, 'posthorn_messages', { project: 'p', queue: 'onred', state: 'free' }), 1);
      // The Redis pool's round trips, and the embedded disk store's group commits (one series each,
      // so the parser's folded buckets are that series' own).
      const trips = up.get('posthorn_store_round_trip_seconds');
      assert.equal(trips?.type, 'HISTOGRAM');
      assert.ok(Number(trips?.metrics[0]?.buckets?.['+Inf']) >= 2, JSON.stringify(trips));
      const commits = up.get('posthorn_store_commit_seconds');
      assert.ok(Number(commits?.metrics[0]?.buckets?.['+Inf']) >= 1, JSON.stringify(commits));
      const batches = up.get('posthorn_store_commit_batch_records');
      assert.ok(Number(batches?.metrics[0]?.buckets?.['+Inf']) >= 1, JSON.stringify(batches));

      await redis.kill('SIGKILL'); // nothing listens on its port now
      const down = await metricsOf(server.url, admin);
      assert.equal(sampleValue(down, 'posthorn_pool_up', { pool: 'red' }), 0);
      assert.equal(sampleValue(down, 'posthorn_pool_up', { pool: 'default' }), 1);
      // The down pool's queue is left out (and counted as unreadable); the other one is read.
      assert.equal(sampleValue(down, 'posthorn_messages', { project: 'p', queue: 'onred', state: 'free' }), undefined);
      assert.equal(sampleValue(down, 'posthorn_messages', { project: 'p', queue: 'local', state: 'free' }), 1);
      assert.equal(sampleValue(down, 'posthorn_metrics_queues_unreadable'), 1);
      assert.equal(sampleValue(down, 'posthorn_messages_posted_total', { project: 'p', queue: 'onred' }), 1);
    } finally {
      await server.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
