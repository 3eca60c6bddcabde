import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';
import { issueToken } from '../../src/service/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const SECRET = 'quota-test-secret-of-32-characters-or-more';
const ADMIN_TOKEN = 'quota-test-admin-token-0123456789';

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field and assert on them
  json: any;
}

describe('server: quotas end to end (disk store, auth_strategy token)', () => {
  let dir: string;
  let file: string;
  let server: RunningServer;
  let member: string;
  let admin: string;

  const start = async () => {
    server = await startQueueServer(
      loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
    );
  };

  async function call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<Answer> {
    const response = await request(`${server.url}${path}`, {
      method,
      headers: { 'client-id': CLIENT, 'content-type': 'application/json', ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
  }
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const breakGlass = { 'x-admin-token': ADMIN_TOKEN };
  const names = async (project: string) => (await server.service.queues.list(project, {})).queues.map((q) => q.name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'posthorn-quotas-'));
    file = join(dir, 'posthorn.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: 'disk',
        log_level: 'silent',
        data: join(dir, 'data'),
        auth_strategy: 'token',
        token: { secret: SECRET },
        admin: { token: ADMIN_TOKEN },
        quotas: { max_messages: 3, max_queues: 2, projects: { roomy: { max_messages: 100 } } },
      }),
    );
    member = await issueToken(SECRET, { project: 'p1', roles: ['member'], ttlSeconds: 3600 });
    admin = await issueToken(SECRET, { project: 'ops', roles: ['admin'], ttlSeconds: 3600 });
    await start();
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a post over a quota is 403 "Quota exceeded" naming the quota and its limit, and writes nothing', async () => {
    const first = await call('POST', '/v2/queues/q/messages', as(member), {
      messages: [{ body: 1 }, { body: 2 }],
    });
    assert.equal(first.status, 201);
    const over = await call('POST', '/v2/queues/q/messages', as(member), {
      messages: [{ body: 3 }, { body: 4 }],
    });
    assert.equal(over.status, 403);
    assert.deepEqual(over.json, {
      title: 'Quota exceeded',
      description: 'Project "p1" may hold at most 3 messages (max_messages); it holds 2 and this post adds 2.',
    });
    const listed = await call('GET', '/v2/queues/q/messages?echo=true', as(member));
    assert.deepEqual(
      listed.json.messages.map((m: { body: unknown }) => m.body),
      [1, 2],
    );
    const queueOver = await call('PUT', '/v2/queues/r', as(member), {});
    assert.equal(queueOver.status, 201);
    const third = await call('PUT', '/v2/queues/s', as(member), {});
    assert.equal(third.status, 403);
    assert.match(third.json.description, /at most 2 queues \(max_queues\)/);
    assert.deepEqual(await names('p1'), ['q', 'r']);
  });

  it('the admin API reads, changes and resets quotas, for admins only', async () => {
    const read = await call('GET', '/v2/quotas/p1', as(admin));
    assert.equal(read.status, 200);
    assert.deepEqual(read.json.quotas, { max_queues: 2, max_messages: 3, max_bytes: null });
    assert.equal(read.json.project, 'p1');
    assert.equal(read.json.usage.queues, 2);
    assert.equal(read.json.usage.messages, 2);
    assert.ok(read.json.usage.bytes > 0);
    assert.equal((await call('GET', '/v2/quotas/roomy', breakGlass)).json.quotas.max_messages, 100);

    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { max_messages: 1000 }],
      ['DELETE', undefined],
    ] as const) {
      const refused = await call(method, '/v2/quotas/p1', as(member), body);
      assert.equal(refused.status, 403, method);
      assert.deepEqual(Object.keys(refused.json).sort(), ['description', 'title']);
    }

    for (const bad of [{ max_messages: -1 }, { max_queues: 'ten' }, { limit: 5 }, [], 'not json']) {
      const answer = await call('PUT', '/v2/quotas/p1', as(admin), bad);
      assert.equal(answer.status, 400, JSON.stringify(bad));
      assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
    }
    assert.deepEqual((await call('GET', '/v2/quotas/p1', as(admin))).json.quotas, read.json.quotas);

    const set = await call('PUT', '/v2/quotas/p1', as(admin), { max_messages: 4, max_queues: null });
    assert.equal(set.status, 200);
    assert.deepEqual(set.json.quotas, { max_queues: null, max_messages: 4, max_bytes: null });
    // In force at once.
    assert.equal((await call('PUT', '/v2/queues/s', as(member), {})).status, 201);
    assert.equal(
      (await call('POST', '/v2/queues/q/messages', as(member), { messages: [{ body: 3 }, { body: 4 }] })).status,
      201,
    );
    assert.equal((await call('POST', '/v2/queues/q/messages', as(member), { messages: [{ body: 5 }] })).status, 403);

    assert.equal((await call('DELETE', '/v2/quotas/p1', as(admin))).status, 204);
    assert.deepEqual((await call('GET', '/v2/quotas/p1', breakGlass)).json.quotas, read.json.quotas);
  });

  it('a quota set through the admin API survives a restart', async () => {
    assert.equal((await call('PUT', '/v2/quotas/p2', breakGlass, { max_messages: 1 })).status, 200);
    await server.close();
    await start();
    const read = await call('GET', '/v2/quotas/p2', breakGlass);
    assert.deepEqual(read.json.quotas, { max_queues: 2, max_messages: 1, max_bytes: null });
    const p2 = await issueToken(SECRET, { project: 'p2', roles: ['member'], ttlSeconds: 3600 });
    assert.equal((await call('POST', '/v2/queues/q/messages', as(p2), { messages: [{ body: 1 }] })).status, 201);
    assert.equal((await call('POST', '/v2/queues/q/messages', as(p2), { messages: [{ body: 2 }] })).status, 403);
  });

  it('a WebSocket message_post over a quota gets the same 403', async () => {
    const p3 = await issueToken(SECRET, { project: 'p3', roles: ['member'], ttlSeconds: 3600 });
    const ws = new WebSocket(server.wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const answers: { headers: { status: number }; body: Record<string, unknown> }[] = [];
    ws.on('message', (data) => answers.push(JSON.parse(data.toString())));
    const send = async (action: string, headers: Record<string, string>, body: Record<string, unknown> = {}) => {
      const index = answers.length;
      ws.send(JSON.stringify({ action, headers: { 'Client-ID': CLIENT, 'X-Project-ID': 'p3', ...headers }, body }));
      while (answers.length <= index) await new Promise((resolve) => ws.once('message', resolve));
      return answers[index] as (typeof answers)[number];
    };
    try {
      assert.equal((await send('authenticate', { 'X-Auth-Token': p3 })).headers.status, 200);
      const ok = await send('message_post', {}, { queue_name: 'w', messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
      assert.equal(ok.headers.status, 201);
      const over = await send('message_post', {}, { queue_name: 'w', messages: [{ body: 4 }] });
      assert.equal(over.headers.status, 403);
      assert.match(String(over.body.error), /at most 3 messages \(max_messages\); it holds 3 and this post adds 1/);
      assert.equal((await server.service.queues.stats('p3', 'w')).total, 3);
    } finally {
      ws.terminate();
    }
  });
});

describe('server: the quota admin API without auth', () => {
  it('needs the admin token; without one configured it refuses everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-quotas-'));
    const file = join(dir, 'posthorn.json');
    writeFileSync(file, JSON.stringify({ store: 'memory', log_level: 'silent', data: join(dir, 'data') }));
    const server = await startQueueServer(
      loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
    );
    try {
      const headers = { 'client-id': CLIENT, 'x-project-id': 'p', 'content-type': 'application/json' };
      const get = await request(`${server.url}/v2/quotas/p`, { headers });
      assert.equal(get.statusCode, 403);
      assert.match(((await get.body.json()) as { description: string }).description, /admin API is disabled/);
      const put = await request(`${server.url}/v2/quotas/p`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ max_messages: 0 }),
      });
      assert.equal(put.statusCode, 403);
      await put.body.text();
      // Refused, so it changed nothing: posts still go through.
      const posted = await request(`${server.url}/v2/queues/q/messages`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ messages: [{ body: 1 }] }),
      });
      assert.equal(posted.statusCode, 201);
      await posted.body.text();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
