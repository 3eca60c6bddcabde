import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createClient,
  IdentityUnavailableError,
  type KeystoneCredentials,
  UnauthenticatedError,
} from '../../src/entry/client.js';
import { closedPort, fakeServer, json } from './fake-http.js';

const FAST = { retries: 2, minDelayMs: 1, maxDelayMs: 1, random: () => 0 };
const STATS = { messages: { claimed: 0, free: 0, total: 0 } };

/**
 * A fake keystone v3 (only POST /v3/auth/tokens, password method) and a fake Zaqar that accepts
 * the tokens in `valid` only, for project `project-id`. Keystone issues tok-1, tok-2, ... each
 * valid at once unless `issueInvalid` is set; `expiresInMs` says when they expire.
 */
async function keystoneWorld(options: { expiresInMs?: number; issueInvalid?: boolean } = {}) {
  const valid = new Set<string>();
  let issued = 0;
  const keystone = await fakeServer((request, response) => {
    const auth = JSON.parse(request.body).auth;
    const user = auth.identity.password.user;
    if (request.url !== '/v3/auth/tokens' || user.name !== 'alice' || user.password !== 'secret') {
      json(response, 401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
      return;
    }
    assert.deepEqual(auth.scope, { project: { name: 'demo', domain: { name: 'Default' } } });
    const token = `tok-${++issued}`;
    if (!options.issueInvalid) valid.add(token);
    const expiresAt = new Date(Date.now() + (options.expiresInMs ?? 3_600_000)).toISOString();
    json(
      response,
      201,
      { token: { expires_at: expiresAt, project: { id: 'project-id', name: 'demo' } } },
      { 'x-subject-token': token },
    );
  });
  const api = await fakeServer((request, response) => {
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string' || !valid.has(token)) {
      json(
        response,
        401,
        { title: 'Unauthorized', description: 'The token is not valid.' },
        {
          'www-authenticate': `Keystone uri="${keystone.url}/v3"`,
        },
      );
      return;
    }
    assert.equal(request.headers['x-project-id'], 'project-id', "the project is the token's");
    json(response, 200, STATS);
  });
  const credentials: KeystoneCredentials = {
    url: `${keystone.url}/v3`,
    username: 'alice',
    password: 'secret',
    project: 'demo',
  };
  return {
    valid,
    keystone,
    api,
    credentials,
    issued: () => issued,
    async close() {
      await keystone.close();
      await api.close();
    },
  };
}

describe('client: keystone auth against a fake keystone', () => {
  it('gets one token, shares it among concurrent requests, and reuses it', async () => {
    const world = await keystoneWorld();
    const client = createClient({ url: world.api.url, auth: { keystone: world.credentials }, retry: FAST });
    try {
      await Promise.all([1, 2, 3, 4, 5].map(() => client.queue('q').stats()));
      await client.queue('q').stats();
      assert.equal(world.issued(), 1);
      assert.equal(world.keystone.received.length, 1);
      assert.equal(world.api.received.length, 6);
      assert.ok(world.api.received.every((r) => r.headers['x-auth-token'] === 'tok-1'));
    } finally {
      await client.close();
      await world.close();
    }
  });

  it('a revoked token: the 401 makes it authenticate again, once, and the request succeeds', async () => {
    const world = await keystoneWorld();
    const client = createClient({ url: world.api.url, auth: { keystone: world.credentials }, retry: FAST });
    try {
      await client.queue('q').stats();
      world.valid.clear();
      assert.deepEqual(await client.queue('q').stats(), { claimed: 0, free: 0, total: 0 });
      assert.equal(world.issued(), 2);
      assert.deepEqual(
        world.api.received.map((r) => r.headers['x-auth-token']),
        ['tok-1', 'tok-1', 'tok-2'],
      );
      // A POST (not idempotent) is tried again after a 401 too: the server did nothing.
      world.valid.clear();
      const posted = await client
        .queue('q')
        .post([{ body: 1 }])
        .catch((e: unknown) => e);
      // The fake answers 200 with stats to anything valid: the post's answer has no resources.
      assert.deepEqual(posted, []);
      assert.equal(world.issued(), 3);
    } finally {
      await client.close();
      await world.close();
    }
  });

  it('concurrent requests refused for a revoked token share one new exchange', async () => {
    const world = await keystoneWorld();
    const client = createClient({ url: world.api.url, auth: { keystone: world.credentials }, retry: FAST });
    try {
      await client.queue('q').stats();
      world.valid.clear();
      await Promise.all([1, 2, 3, 4, 5].map(() => client.queue('q').stats()));
      assert.equal(world.issued(), 2, 'five 401s, one re-authentication');
      const retried = world.api.received.slice(1).filter((r) => r.headers['x-auth-token'] === 'tok-2');
      assert.equal(retried.length, 5);
    } finally {
      await client.close();
      await world.close();
    }
  });

  it('when the fresh token is refused too, UnauthenticatedError after exactly one re-authentication', async () => {
    const world = await keystoneWorld({ issueInvalid: true });
    const client = createClient({ url: world.api.url, auth: { keystone: world.credentials }, retry: FAST });
    try {
      const error = await client
        .queue('q')
        .stats()
        .catch((e: unknown) => e);
      assert.ok(error instanceof UnauthenticatedError, String(error));
      assert.equal(error.challenge, `Keystone uri="${world.keystone.url}/v3"`);
      assert.equal(world.issued(), 2);
      assert.equal(world.api.received.length, 2);
    } finally {
      await client.close();
      await world.close();
    }
  });

  it('a token about to expire is not used: the next request authenticates again', async () => {
    // 30 s left is inside the client's margin of a minute.
    const world = await keystoneWorld({ expiresInMs: 30_000 });
    const client = createClient({ url: world.api.url, auth: { keystone: world.credentials }, retry: FAST });
    try {
      await client.queue('q').stats();
      await client.queue('q').stats();
      assert.equal(world.issued(), 2);
      assert.deepEqual(
        world.api.received.map((r) => r.headers['x-auth-token']),
        ['tok-1', 'tok-2'],
      );
    } finally {
      await client.close();
      await world.close();
    }
  });

  it('a wrong password is UnauthenticatedError; keystone down is IdentityUnavailableError; nothing reaches the API', async () => {
    const world = await keystoneWorld();
    const wrong = createClient({
      url: world.api.url,
      auth: { keystone: { ...world.credentials, password: 'nope' } },
      retry: FAST,
    });
    const down = createClient({
      url: world.api.url,
      auth: { keystone: { ...world.credentials, url: `http://127.0.0.1:${await closedPort()}` } },
      retry: FAST,
    });
    try {
      await assert.rejects(wrong.queue('q').stats(), UnauthenticatedError);
      await assert.rejects(down.queue('q').stats(), IdentityUnavailableError);
      assert.equal(world.api.received.length, 0);
      // A failed exchange is not cached: the next request asks keystone again.
      await assert.rejects(wrong.queue('q').stats(), UnauthenticatedError);
      assert.equal(world.keystone.received.length, 2);
    } finally {
      await wrong.close();
      await down.close();
      await world.close();
    }
  });
});
