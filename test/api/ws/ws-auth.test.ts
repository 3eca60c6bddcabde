import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../../src/server/index.js';
import { posthorn } from '../../cli/run-posthorn.js';
import { tamperHex } from '../../fixtures/tamper.js';

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

  async send(action: string, headers: Record<string, unknown>, body: Record<string, unknown> = {}): Promise<Answer> {
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
        signed_url: { secret_key: 'ws-auth-test-signed-url-key' },
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
  it("a pre-signed URL stands in for authenticate, for the message actions it signs (Zaqar's protocol.py)", async () => {
    const member = await createToken('p1', 'member');
    const http = (method: string, path: string, body?: unknown) =>
      request(`${server.url}${path}`, {
        method: method as 'PUT',
        headers: { 'client-id': CLIENT, authorization: `Bearer ${member}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    assert.equal((await http('PUT', '/v2/queues/signed-q', {})).statusCode, 201);
    assert.equal((await http('PUT', '/v2/queues/unsigned-q', {})).statusCode, 201);
    const share = await http('POST', '/v2/queues/signed-q/share', { methods: ['GET', 'POST'] });
    assert.equal(share.statusCode, 200);
    const signed = (await share.body.json()) as {
      signature: string;
      expires: string;
      methods: string[];
      paths: string[];
      project: string;
    };
    assert.equal(signed.project, 'p1');
    // Zaqar's own WebSocket tests send the lists as lists; zaqarclient and HTTP send them joined.
    const asLists = {
      'X-Project-ID': signed.project,
      'URL-Signature': signed.signature,
      'URL-Expires': signed.expires,
      'URL-Methods': signed.methods,
      'URL-Paths': signed.paths,
    };
    const asText = { ...asLists, 'URL-Methods': signed.methods.join(','), 'URL-Paths': signed.paths.join(',') };

    const socket = await open();
    const posted = await socket.send('message_post', asLists, {
      queue_name: 'signed-q',
      messages: [{ body: 'signed', ttl: 300 }],
    });
    assert.equal(posted.headers.status, 201, JSON.stringify(posted.body));
    const id = (posted.body.message_ids as string[])[0] as string;
    const listed = await socket.send('message_list', asText, { queue_name: 'signed-q', echo: true });
    assert.equal(listed.headers.status, 200);
    assert.deepEqual(
      (listed.body.messages as { body: unknown }[]).map((m) => m.body),
      ['signed'],
    );
    assert.equal(
      (await socket.send('message_get', asText, { queue_name: 'signed-q', message_id: id })).headers.status,
      200,
    );

    const refused: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['message_delete', asText, { queue_name: 'signed-q', message_id: id }], // DELETE is not signed
      ['queue_delete', asText, { queue_name: 'signed-q' }], // only message actions can be signed
      ['queue_get_stats', asText, { queue_name: 'signed-q' }],
      ['message_post', asText, { queue_name: 'unsigned-q', messages: [{ body: 'x', ttl: 300 }] }],
      ['message_list', { ...asText, 'X-Project-ID': 'p2' }, { queue_name: 'signed-q' }],
      ['message_list', { ...asText, 'URL-Signature': tamperHex(signed.signature) }, { queue_name: 'signed-q' }],
      ['message_list', { ...asText, 'URL-Methods': 'GET' }, { queue_name: 'signed-q' }],
    ];
    for (const [action, headers, body] of refused) {
      const answer = await socket.send(action, headers, body);
      assert.equal(answer.headers.status, 403, `${action} ${JSON.stringify(headers)}`);
      assert.equal(answer.body.error, 'Not authentified.');
    }
    assert.equal((await server.service.queues.stats('p1', 'signed-q')).total, 1);
    assert.equal((await server.service.queues.stats('p1', 'unsigned-q')).total, 0);
    assert.equal((await server.service.queues.list('p2', {})).queues.length, 0);

    // Over HTTP the same signature stands in for the bearer token.
    const byHttp = await request(`${server.url}/v2/queues/signed-q/messages?echo=true`, {
      headers: {
        'client-id': CLIENT,
        'x-project-id': signed.project,
        'url-signature': signed.signature,
        'url-expires': signed.expires,
        'url-methods': signed.methods.join(','),
        'url-paths': signed.paths.join(','),
      },
    });
    assert.equal(byHttp.statusCode, 200);
    assert.equal(((await byHttp.body.json()) as { messages: unknown[] }).messages.length, 1);
  });
});
