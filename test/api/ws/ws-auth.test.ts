import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../../src/server/index.js';
import { posthorn } from '../../cli/run-posthorn.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const SECRET = 'ws-auth-test-secret-of-32-characters-or-more';

interface Answer {
  body: Record<string, unknown>;
  headers: { status: number };
}

/** One socket; each `send` waits for its answer (answers come in request order). */
class Socket {
  private readonly answers: Answer[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const doc = JSON.parse(data.toString()) as Record<string, unknown>;
      if ('request' in doc) this.answers.push(doc as unknown as Answer);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(url: string): Promise<Socket> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Socket(ws);
  }

  async send(action: string, headers: Record<string, string>, body: Record<string, unknown> = {}): Promise<Answer> {
    const index = this.answers.length;
    // Zaqar's request schema wants X-Project-ID on every request: the token's project unless a test says otherwise.
    this.ws.send(JSON.stringify({ action, headers: { 'Client-ID': CLIENT, 'X-Project-ID': 'p1', ...headers }, body }));
    while (this.answers.length <= index) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.answers[index] as Answer;
  }
}

/** `posthorn token create`, as a person runs it; the token it prints. */
async function createToken(project: string, ...roles: string[]): Promise<string> {
  const result = await posthorn(
    { env: { POSTHORN_TOKEN_SECRET: SECRET } },
    'token',
    'create',
    '--project',
    project,
    ...roles.flatMap((r) => ['--role', r]),
    '--ttl',
    '1h',
  );
  assert.equal(result.code, 0, result.err);
  assert.match(result.out, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  return result.out.trim();
}

describe('websocket and http: auth_strategy token, end to end', () => {
  let server: RunningServer;
  let dir: string;
  const sockets: Socket[] = [];
  const open = async () => {
    const socket = await Socket.open(server.wsUrl);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'posthorn-ws-auth-'));
    const file = join(dir, 'posthorn.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: 'memory',
        log_level: 'silent',
        data: join(dir, 'data'),
        auth_strategy: 'token',
        token: { secret: SECRET },
      }),
    );
    server = await startQueueServer(
      loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
    );
  });

  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('before authenticate a socket is refused 403 "Not authentified."; a bad token is 401 and nothing is written', async () => {
    const socket = await open();
    const early = await socket.send('queue_create', {}, { queue_name: 'early' });
    assert.equal(early.headers.status, 403);
    assert.equal(early.body.error, 'Not authentified.');
    const bad = await socket.send('authenticate', { 'X-Auth-Token': 'a.b.c' });
    assert.equal(bad.headers.status, 401);
    assert.equal(bad.body.error, 'Authentication failed.');
    const still = await socket.send('queue_create', {}, { queue_name: 'early' });
    assert.equal(still.headers.status, 403);
    assert.equal((await server.service.queues.list('p1', {})).queues.length, 0);
  });

  it('after authenticate the socket runs as the token: its project, its roles', async () => {
    const member = await createToken('p1', 'member');
    const socket = await open();
    const auth = await socket.send('authenticate', { 'X-Auth-Token': member });
    assert.equal(auth.headers.status, 200);
    assert.equal(auth.body.message, 'Authentified.');
    const created = await socket.send('queue_create', {}, { queue_name: 'wsq' });
    assert.equal(created.headers.status, 201);
    const posted = await socket.send('message_post', {}, { queue_name: 'wsq', messages: [{ body: 'hi', ttl: 300 }] });
    assert.equal(posted.headers.status, 201);
    assert.deepEqual(
      (await server.service.queues.list('p1', {})).queues.map((q) => q.name),
      ['wsq'],
    );
    const other = await socket.send('queue_list', { 'X-Project-ID': 'p2' });
    assert.equal(other.headers.status, 403);
    const pools = await socket.send('pool_get', {}, { pool_name: 'any' });
    assert.equal(pools.headers.status, 403);

    const reader = await createToken('p1', 'reader');
    const readerSocket = await open();
    assert.equal((await readerSocket.send('authenticate', { 'X-Auth-Token': reader })).headers.status, 200);
    const list = await readerSocket.send('message_list', {}, { queue_name: 'wsq', echo: true });
    assert.equal(list.headers.status, 200);
    assert.equal((list.body.messages as unknown[]).length, 1);
    const post = await readerSocket.send(
      'message_post',
      {},
      { queue_name: 'wsq', messages: [{ body: 'no', ttl: 300 }] },
    );
    assert.equal(post.headers.status, 403);
    assert.equal((await server.service.queues.stats('p1', 'wsq')).total, 1);
  });

  it('over HTTP the same token is accepted, and a request without one is 401 with a challenge', async () => {
    const member = await createToken('p1', 'member');
    const url = `${server.url}/v2/queues`;
    const ok = await request(url, { headers: { 'client-id': CLIENT, authorization: `Bearer ${member}` } });
    assert.equal(ok.statusCode, 200);
    const listed = (await ok.body.json()) as { queues: { name: string }[] };
    assert.deepEqual(
      listed.queues.map((q) => q.name),
      ['wsq'],
    );
    const none = await request(url, { headers: { 'client-id': CLIENT, 'x-project-id': 'p1' } });
    assert.equal(none.statusCode, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="posthorn"');
    const body = (await none.body.json()) as { title: string; description: string };
    assert.equal(body.title, 'Unauthorized');
  });
});
