import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, ForbiddenError, serverAnswerOf, UnauthenticatedError } from '../../src/entry/client.js';
import { issueToken } from '../../src/service/index.js';
import { removeFolder, serveForClient, type TestServer } from './serve.js';

const SECRET = 'client-auth-test-secret-of-32-characters!';
const API_KEY = 'pk-client-test-member-key';
const READER_KEY = 'pk-client-test-reader-key';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('client: auth_strategy token against a real posthorn serve', { timeout: 180_000 }, () => {
  let server: TestServer;

  before(async () => {
    server = await serveForClient({
      auth_strategy: 'token',
      token: {
        secret: SECRET,
        keys: [
          { hash: sha256(API_KEY), project: 'keyed', roles: ['member'] },
          { hash: sha256(READER_KEY), project: 'keyed', roles: ['reader'] },
        ],
      },
    });
  });
  after(async () => {
    await server?.process.stop();
    if (server) removeFolder(server.dir);
  });

  it('a JWT of posthorn token create works in its project, without naming one', async () => {
    const token = await issueToken(SECRET, { project: 'jwt-project', roles: ['member'], ttlSeconds: 3600 });
    const client = createClient({ url: server.url, auth: { token } });
    try {
      const [id] = await client.queue('tq').post([{ body: 'with a jwt' }]);
      assert.equal((await client.queue('tq').get(id as string)).body, 'with a jwt');
      assert.deepEqual(
        (await client.listQueues()).queues.map((q) => q.name),
        ['tq'],
      );
    } finally {
      await client.close();
    }
  });

  it('an API key works in its project; a reader key may read but not post', async () => {
    const member = createClient({ url: server.url, auth: { apiKey: API_KEY } });
    const reader = createClient({ url: server.url, auth: { apiKey: READER_KEY } });
    try {
      await member.queue('kq').post([{ body: 'by key' }]);
      assert.equal((await reader.queue('kq').stats()).total, 1);
      const refused = await assert.rejects(reader.queue('kq').post([{ body: 'no' }]), ForbiddenError);
      assert.equal(refused, undefined);
      assert.equal((await member.queue('kq').stats()).total, 1, 'the refused post wrote nothing');
    } finally {
      await member.close();
      await reader.close();
    }
  });

  it('no credential or a wrong one: UnauthenticatedError with the challenge, and no retry loop', async () => {
    for (const client of [
      createClient({ url: server.url, project: 'keyed' }),
      createClient({ url: server.url, auth: { apiKey: 'not-a-key' } }),
    ]) {
      try {
        let caught: unknown;
        try {
          await client.queue('kq').stats();
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof UnauthenticatedError, String(caught));
        assert.equal(caught.challenge, 'Bearer realm="posthorn"');
        assert.equal(serverAnswerOf(caught)?.status, 401);
        assert.equal(client.transport.retriesMade, 0);
      } finally {
        await client.close();
      }
    }
  });

  it('a WebSocket subscription authenticates with the token', async () => {
    const token = await issueToken(SECRET, { project: 'ws-project', roles: ['member'], ttlSeconds: 3600 });
    const client = createClient({ url: server.url, auth: { token }, wsUrl: server.wsUrl });
    try {
      const subscription = await client.subscribe('wq');
      await client.queue('wq').post([{ body: 'over the socket' }]);
      const first = await subscription.next();
      assert.deepEqual(first, { value: { body: 'over the socket', ttl: 3600, queueName: 'wq' }, done: false });
      subscription.close();
    } finally {
      await client.close();
    }
  });

  it('a WebSocket subscription with a bad token is refused, typed', async () => {
    const client = createClient({
      url: server.url,
      project: 'ws-project',
      auth: { token: 'a.b.c' },
      wsUrl: server.wsUrl,
    });
    try {
      await assert.rejects(client.subscribe('wq'), UnauthenticatedError);
    } finally {
      await client.close();
    }
  });
});
