import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';
import { zaqarHeaders } from './serve-client.js';

/**
 * Fair share on a real server. The rates are one token per 1000 s, so nothing refills while the
 * test runs however slow the machine is: each project has exactly its burst, and what is
 * refused is decided by counting, never by timing.
 */
const CONFIG = `port = 0
ws_port = 0
store = "memory"
log_level = "silent"

[fair_share]
requests_per_second = 0.001
request_burst = 5
messages_per_second = 0.001
message_burst = 4
refusal_delay_ms = 20

[fair_share.projects.b]
requests_per_second = 0.001
request_burst = 1000
messages_per_second = 0.001
message_burst = 1000
`;

async function call(url: string, project: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${url}${path}`, {
    method,
    headers: zaqarHeaders(project),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: text === '' ? undefined : JSON.parse(text) };
}

const post = (n: number) => ({ messages: Array.from({ length: n }, (_, i) => ({ ttl: 300, body: { i } })) });

describe('server: fair share', () => {
  let dir: string;
  let server: RunningServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'posthorn-fair-'));
    writeFileSync(join(dir, 'posthorn.toml'), CONFIG);
    server = await startQueueServer(loadServerConfig({ env: {}, cwd: dir }), pino({ level: 'silent' }));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a flooding project with 429, Retry-After and Zaqar’s body, while another project is served', async () => {
    const statuses: number[] = [];
    const others: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await call(server.url, 'a', 'GET', '/v2/queues')).status);
      others.push((await call(server.url, 'b', 'GET', '/v2/queues')).status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.deepEqual(others, [200, 200, 200, 200, 200, 200, 200, 200]);
    const refused = await call(server.url, 'a', 'GET', '/v2/queues');
    assert.equal(refused.status, 429);
    assert.deepEqual(Object.keys(refused.json).sort(), ['description', 'title']);
    assert.equal(refused.json.title, 'Too many requests');
    assert.match(refused.json.description, /^Project "a" may make 0\.001 requests per second \(requests_per_second\)/);
    // Nothing refills in this test: the next token is (almost) 1000 s away.
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 1000, String(retryAfter));
    // Routes that run in no project are not charged (/v2/ping runs in one, and reaches the store: it is).
    assert.equal((await call(server.url, 'a', 'GET', '/healthz')).status, 200);
    assert.equal((await call(server.url, 'a', 'GET', '/')).status, 300);
    assert.equal((await call(server.url, 'a', 'GET', '/v2/ping')).status, 429);
  });

  it('refuses a post past the project’s messages and writes nothing of it', async () => {
    const first = await call(server.url, 'c', 'POST', '/v2/queues/q/messages', post(3));
    assert.equal(first.status, 201);
    const second = await call(server.url, 'c', 'POST', '/v2/queues/q/messages', post(2));
    assert.equal(second.status, 429);
    assert.equal(second.json.title, 'Too many requests');
    assert.match(second.json.description, /may post 0\.001 messages per second \(messages_per_second\)/);
    assert.ok(Number(second.headers['retry-after']) >= 1);
    const listed = await call(server.url, 'c', 'GET', '/v2/queues/q/messages?echo=true&limit=10');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.json.messages.map((m: { body: unknown }) => m.body),
      [{ i: 0 }, { i: 1 }, { i: 2 }],
    );
  });

  it('answers a WebSocket flood with status 429 too, charging the same buckets', async () => {
    const ws = new WebSocket(server.wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const answers: { headers: { status: number }; body: Record<string, unknown> }[] = [];
    ws.on('message', (data) => answers.push(JSON.parse(data.toString())));
    const headers = { 'Client-ID': '3381af92-2b9e-11e3-b191-71861300734c', 'X-Project-ID': 'w' };
    try {
      // Two by HTTP, four by WebSocket: the fifth request of the project is its last.
      assert.equal((await call(server.url, 'w', 'GET', '/v2/queues')).status, 200);
      assert.equal((await call(server.url, 'w', 'GET', '/v2/queues')).status, 200);
      for (let i = 0; i < 4; i++) {
        const seen = answers.length;
        ws.send(JSON.stringify({ action: 'queue_list', headers }));
        const deadline = Date.now() + 30_000;
        while (answers.length === seen) {
          if (Date.now() > deadline) throw new Error('no answer');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      assert.deepEqual(
        answers.map((a) => a.headers.status),
        [200, 200, 200, 429],
      );
      assert.match(String(answers[3]?.body.error), /Project "w" may make/);
      assert.equal((await call(server.url, 'w', 'GET', '/v2/queues')).status, 429);
    } finally {
      ws.close();
    }
  });
});
