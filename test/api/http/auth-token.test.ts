import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { makeLimits } from '../../../src/core/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  checkProjectId,
  issueToken,
  TokenAuthenticator,
} from '../../../src/service/index.js';
import { CLIENT, testApi } from './helpers.js';

const SECRET = 'a-test-secret-of-more-than-32-characters';
const API_KEY = 'pk-reader-key-for-project-b';
const checkProject = (value: string | undefined) => checkProjectId(value, makeLimits());

function tokenApi() {
  const access = new AccessControl(
    new TokenAuthenticator({
      secret: SECRET,
      keys: [{ hash: createHash('sha256').update(API_KEY).digest('hex'), project: 'b', roles: ['reader'] }],
    }),
    new AccessPolicy(),
    new AdminToken('break-glass-admin-token'),
    checkProject,
  );
  return testApi({ app: { access, adminToken: 'break-glass-admin-token' } });
}

describe('http: auth_strategy token', () => {
  const api = tokenApi();
  after(() => api.close());
  const as = (token: string | undefined, extra: Record<string, string> = {}) => ({
    'client-id': CLIENT,
    // The helper sends a project by default: these requests name one only where they say so.
    'x-project-id': undefined,
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...extra,
  });
  const count = async (project: string) => (await api.service.queues.list(project, {})).queues.length;

  it('a member token works in its own project, without X-Project-ID', async () => {
    const token = await issueToken(SECRET, { project: 'a', roles: ['member'], ttlSeconds: 3600 });
    const put = await api.call('PUT', '/v2/queues/q1', { headers: as(token), body: {} });
    assert.equal(put.status, 201);
    const list = await api.call('GET', '/v2/queues', { headers: as(token) });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.json.queues.map((q: { name: string }) => q.name),
      ['q1'],
    );
    assert.equal(await count('a'), 1);
  });

  it('no token, a malformed one, a wrong signature and an expired one: 401 with a challenge, nothing written', async () => {
    const good = await issueToken(SECRET, { project: 'a', roles: ['member'], ttlSeconds: 3600 });
    const wrong = await issueToken('another-secret-of-more-than-32-chars!', {
      project: 'a',
      roles: ['member'],
      ttlSeconds: 3600,
    });
    const expired = await issueToken(
      SECRET,
      { project: 'a', roles: ['member'], ttlSeconds: 60 },
      Date.now() - 3_600_000,
    );
    const cases: [string | undefined, RegExp][] = [
      [undefined, /needs a token/],
      ['not.a.jwt', /malformed/],
      [`${good.slice(0, -4)}AAAA`, /signature/],
      [wrong, /signature/],
      [expired, /expired/],
      ['unknown-api-key', /not a valid token/],
    ];
    for (const [token, description] of cases) {
      const answer = await api.call('PUT', '/v2/queues/bad-token', { headers: as(token), body: {} });
      assert.equal(answer.status, 401, String(token));
      assert.equal(answer.json.title, 'Unauthorized');
      assert.match(answer.json.description, description);
      assert.equal(answer.headers['www-authenticate'], 'Bearer realm="posthorn"');
    }
    assert.equal(
      (await api.service.queues.list('a', {})).queues.some((q) => q.name === 'bad-token'),
      false,
    );
  });

  it('an X-Project-ID naming another project is 403 for a member, and allowed for an admin', async () => {
    const member = await issueToken(SECRET, { project: 'a', roles: ['member'], ttlSeconds: 3600 });
    const refused = await api.call('PUT', '/v2/queues/cross', {
      headers: as(member, { 'x-project-id': 'c' }),
      body: {},
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.title, 'Forbidden');
    assert.match(refused.json.description, /may not name another project/);
    assert.equal(await count('c'), 0);
    const admin = await issueToken(SECRET, { project: 'a', roles: ['admin'], ttlSeconds: 3600 });
    const allowed = await api.call('PUT', '/v2/queues/cross', {
      headers: as(admin, { 'x-project-id': 'c' }),
      body: {},
    });
    assert.equal(allowed.status, 201);
    assert.equal(await count('c'), 1);
  });

  it('a reader (API key) may list but not post; health needs an admin, or the break-glass token', async () => {
    await api.service.queues.create('b', 'rq', {});
    const list = await api.call('GET', '/v2/queues', { headers: as(API_KEY) });
    assert.equal(list.status, 200);
    const post = await api.call('POST', '/v2/queues/rq/messages', {
      headers: as(API_KEY),
      body: { messages: [{ body: 1, ttl: 300 }] },
    });
    assert.equal(post.status, 403);
    assert.match(post.json.description, /messages:create needs the member role/);
    const stats = await api.service.queues.stats('b', 'rq');
    assert.equal(stats.total, 0);
    const member = await issueToken(SECRET, { project: 'a', roles: ['member'], ttlSeconds: 3600 });
    const health = await api.call('GET', '/v2/health', { headers: as(member) });
    assert.equal(health.status, 403);
    const glass = await api.call('GET', '/v2/health', {
      headers: { 'client-id': CLIENT, 'x-project-id': 'ops', 'x-admin-token': 'break-glass-admin-token' },
    });
    assert.equal(glass.status, 200);
  });

  it('a pre-signed URL stands instead of a token for what it signs', async () => {
    const member = await issueToken(SECRET, { project: 'a', roles: ['member'], ttlSeconds: 3600 });
    await api.call('PUT', '/v2/queues/shared', { headers: as(member), body: {} });
    const share = await api.call('POST', '/v2/queues/shared/share', {
      headers: as(member),
      body: { methods: ['GET', 'POST'] },
    });
    assert.equal(share.status, 200, share.text);
    const signed = {
      'client-id': CLIENT,
      'x-project-id': share.json.project,
      'url-signature': share.json.signature,
      'url-expires': share.json.expires,
      'url-methods': share.json.methods.join(','),
      'url-paths': share.json.paths.join(','),
    };
    const post = await api.call('POST', '/v2/queues/shared/messages', {
      headers: signed,
      body: { messages: [{ body: 'signed', ttl: 300 }] },
    });
    assert.equal(post.status, 201, post.text);
    assert.equal((await api.service.queues.stats('a', 'shared')).total, 1);
  });
});

describe('http: auth_strategy noauth with default_project', () => {
  it('a request without X-Project-ID runs in the default project; without one it is refused as before', async () => {
    const { NoauthAuthenticator } = await import('../../../src/service/index.js');
    const make = (project: string | null) =>
      testApi({
        app: {
          access: new AccessControl(
            new NoauthAuthenticator(project, checkProject),
            new AccessPolicy(),
            new AdminToken(null),
            checkProject,
          ),
        },
      });
    const withDefault = make('demo');
    const plain = make(null);
    try {
      const put = await withDefault.call('PUT', '/v2/queues/q', {
        headers: { 'client-id': CLIENT, 'x-project-id': undefined },
        body: {},
      });
      assert.equal(put.status, 201);
      assert.equal((await withDefault.service.queues.list('demo', {})).queues.length, 1);
      const refused = await plain.call('PUT', '/v2/queues/q', {
        headers: { 'client-id': CLIENT, 'x-project-id': undefined },
        body: {},
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.title, 'Project-Id Missing');
    } finally {
      await withDefault.close();
      await plain.close();
    }
  });
});
