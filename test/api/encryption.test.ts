import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';
import { deriveKeyId, readEncryptionKey } from '../../src/service/index.js';
import { startWebhookReceiver } from '../fixtures/webhook-receiver.js';
import { CLIENT, testApi } from './http/helpers.js';

const PROJECT = 'crypt-test';
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-crypt-'));
  dirs.push(dir);
  return dir;
}

/** A server on the disk store in `dir`, with the given environment (the keys). */
function start(dir: string, env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const config = loadServerConfig({
    env: { POSTHORN_LOG_LEVEL: 'silent', POSTHORN_DATA: join(dir, 'data'), ...env },
    cwd: dir,
    flags: { port: 0, wsPort: 0 },
  });
  return startQueueServer(config);
}

async function call(server: RunningServer, method: string, path: string, body?: unknown, contentType?: string) {
  const response = await request(`${server.url}${path}`, {
    method: method as 'GET',
    headers: {
      'client-id': CLIENT,
      'x-project-id': PROJECT,
      'content-type': contentType ?? 'application/json',
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

async function wsCall(server: RunningServer, action: string, body: Record<string, unknown>) {
  const ws = new WebSocket(server.wsUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const answer = new Promise<{ headers: { status: number }; body: Record<string, unknown> }>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse(data.toString()))),
    );
    ws.send(JSON.stringify({ action, headers: { 'Client-ID': CLIENT, 'X-Project-ID': PROJECT }, body }));
    return await answer;
  } finally {
    ws.terminate();
  }
}

function filesUnder(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name))),
  );
}

const PATCH_TYPE = 'application/openstack-messaging-v2.0-json-patch';

describe('encryption at rest over the wire', () => {
  it('without a key, _enable_encrypt_messages: true is refused 400 on every path (v2, v1.1, topics, PATCH, WebSocket) and nothing changes', async () => {
    const server = await start(folder(), {});
    try {
      const flag = { _enable_encrypt_messages: true };
      for (const path of ['/v2/queues/q1', '/v1.1/queues/q1', '/v2/topics/t1']) {
        const answer = await call(server, 'PUT', path, flag);
        assert.equal(answer.status, 400, path);
        assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title'], path);
        assert.match(answer.json.description, /_enable_encrypt_messages.*\[encryption\] key/, path);
        assert.equal((await call(server, 'GET', path)).status, 404, `${path} was not made`);
      }
      assert.equal((await call(server, 'PUT', '/v2/queues/q2', { color: 'red' })).status, 201);
      const patched = await call(
        server,
        'PATCH',
        '/v2/queues/q2',
        [{ op: 'add', path: '/metadata/_enable_encrypt_messages', value: true }],
        PATCH_TYPE,
      );
      assert.equal(patched.status, 400);
      assert.match(patched.json.description, /_enable_encrypt_messages/);
      assert.equal((await call(server, 'GET', '/v2/queues/q2')).json._enable_encrypt_messages, false);
      const ws = await wsCall(server, 'queue_create', { queue_name: 'q3', metadata: flag });
      assert.equal(ws.headers.status, 400);
      assert.match(JSON.stringify(ws.body), /_enable_encrypt_messages/);
      assert.equal((await call(server, 'GET', '/v2/queues/q3')).status, 404);
      // Setting it false is fine without a key.
      assert.equal((await call(server, 'PUT', '/v2/queues/q4', { _enable_encrypt_messages: false })).status, 201);
    } finally {
      await server.close();
    }
  });

  it('rotation across restarts: no plaintext on disk; a removed key is a 503 naming its id; listed again, it reads', async () => {
    const dir = folder();
    const first = randomBytes(32).toString('base64');
    const second = randomBytes(32).toString('base64');
    const firstId = deriveKeyId(Buffer.from(first, 'base64'));
    const secret = `PLAINTEXT-${randomBytes(8).toString('hex')}`;

    let server = await start(dir, { POSTHORN_ENCRYPTION_KEY: first });
    let id: string;
    try {
      assert.equal((await call(server, 'PUT', '/v2/queues/vault', { _enable_encrypt_messages: true })).status, 201);
      const posted = await call(server, 'POST', '/v2/queues/vault/messages', { messages: [{ body: { secret } }] });
      assert.equal(posted.status, 201);
      id = String(posted.json.resources[0]).split('/').pop() as string;
      const got = await call(server, 'GET', `/v2/queues/vault/messages/${id}`);
      assert.deepEqual(got.json.body, { secret });
    } finally {
      await server.close();
    }
    const raw = filesUnder(join(dir, 'data'));
    assert.equal(raw.includes(Buffer.from(secret)), false, 'the body is on disk in clear');
    assert.ok(raw.includes(Buffer.from(firstId)), 'the key id is on disk');

    // The first key dropped altogether: the message is intact but cannot be read here.
    server = await start(dir, { POSTHORN_ENCRYPTION_KEY: second });
    try {
      const refused = await call(server, 'GET', `/v2/queues/vault/messages/${id}`);
      assert.equal(refused.status, 503);
      assert.match(refused.json.description, new RegExp(`key id ${firstId}`));
      const listed = await call(server, 'GET', '/v2/queues/vault/messages?echo=true');
      assert.equal(listed.status, 503);
      // New messages are sealed under the new key meanwhile.
      assert.equal(
        (await call(server, 'POST', '/v2/queues/vault/messages', { messages: [{ body: 'new' }] })).status,
        201,
      );
    } finally {
      await server.close();
    }

    // Rotated properly: the new key current, the old one listed.
    server = await start(dir, { POSTHORN_ENCRYPTION_KEY: second, POSTHORN_ENCRYPTION_OLD_KEYS: first });
    try {
      const listed = await call(server, 'GET', '/v2/queues/vault/messages?echo=true');
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.json.messages.map((m: { body: unknown }) => m.body),
        [{ secret }, 'new'],
      );
    } finally {
      await server.close();
    }
  });

  it('a notification of an encrypted queue waits for delivery sealed, and is delivered in clear', async () => {
    const dir = folder();
    const receiver = await startWebhookReceiver();
    const server = await start(dir, { POSTHORN_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    try {
      const secret = `PLAINTEXT-${randomBytes(8).toString('hex')}`;
      assert.equal((await call(server, 'PUT', '/v2/queues/vault', { _enable_encrypt_messages: true })).status, 201);
      receiver.hold('/hook');
      const subscribed = await call(server, 'POST', '/v2/queues/vault/subscriptions', {
        subscriber: receiver.url('/hook'),
        ttl: 600,
      });
      assert.equal(subscribed.status, 201);
      assert.equal(
        (await call(server, 'POST', '/v2/queues/vault/messages', { messages: [{ body: { secret } }] })).status,
        201,
      );
      // The post is answered once its notification is spooled; it is held in flight, so still on disk.
      await receiver.until('/hook', 1);
      const raw = filesUnder(join(dir, 'data'));
      assert.ok(raw.length > 0);
      assert.equal(raw.includes(Buffer.from(secret)), false, 'the body waits in the notifications folder in clear');
      receiver.release('/hook');
      const [hit] = receiver.on('/hook');
      assert.match(hit?.body ?? '', new RegExp(secret));
    } finally {
      receiver.release('/hook');
      await server.close();
      await receiver.close();
    }
  });

  it('a tampered ciphertext answers 410, never a body', async () => {
    const key = readEncryptionKey(randomBytes(32).toString('base64'), 'test');
    const api = testApi({ service: { encryption: { current: key, old: [] } } });
    try {
      assert.equal((await api.call('PUT', '/v2/queues/q', { body: { _enable_encrypt_messages: true } })).status, 201);
      await api.call('POST', '/v2/queues/q/messages', { body: { messages: [{ body: 'hello' }] } });
      const [stored] = (await api.driver.messages.list('test-project', 'q', { echo: true })).messages;
      const tampered = Buffer.from(stored?.body as Uint8Array);
      tampered[tampered.length - 17] = (tampered[tampered.length - 17] ?? 0) ^ 0x01;
      const [id] = await api.driver.messages.post('test-project', 'q', [{ body: tampered }], CLIENT);
      const answer = await api.call('GET', `/v2/queues/q/messages/${id}`);
      assert.equal(answer.status, 410);
      assert.doesNotMatch(answer.text, /hello/);
    } finally {
      await api.close();
    }
  });
});
