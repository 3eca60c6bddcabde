import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { post, type TestApi, testApi } from './helpers.js';

const SHARE = '/v2/queues/shared_queue/share';

/**
 * The signature of paths [messages, subscriptions] of shared_queue, methods [GET, POST], project
 * test-project, expires 2026-01-02T00:00:00, secret "test-secret", as Zaqar's create_signed_url
 * computes it; made with Python's hmac module:
 *   hmac.new(b'test-secret', r'<paths>\n<methods>\n<project>\n<expires>' % ..., hashlib.sha256).hexdigest()
 */
const ZAQAR_SIGNATURE = '15fd904f4789246ddfaf3e7a671eab91b249165824774eb21acbd493cfbc91fb';

describe('http: pre-signed URLs (share)', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  it('signs exactly as Zaqar does: sorted paths and methods, project, expires, HMAC-SHA256', async () => {
    const answer = await api.call('POST', SHARE, {
      body: { paths: ['subscriptions', 'messages'], methods: ['POST', 'GET'], expires: '2026-01-02T00:00:00' },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, {
      project: 'test-project',
      paths: ['/v2/queues/shared_queue/messages', '/v2/queues/shared_queue/subscriptions'],
      methods: ['GET', 'POST'],
      expires: '2026-01-02T00:00:00',
      signature: ZAQAR_SIGNATURE,
    });
  });

  it('defaults to the messages path, GET, and a day from now; takes zoned and fractional dates', async () => {
    const answer = await api.call('POST', SHARE, { body: {} });
    assert.deepEqual(answer.json.paths, ['/v2/queues/shared_queue/messages']);
    assert.deepEqual(answer.json.methods, ['GET']);
    assert.equal(answer.json.expires, '2026-01-02T00:00:00');
    const zoned = await api.call('POST', SHARE, { body: { expires: '2026-01-02T02:00:00.123456+02:00' } });
    assert.equal(zoned.json.expires, '2026-01-02T00:00:00', 'normalized to UTC without the fraction');
  });

  it('refuses unknown keys, invalid paths, non-list methods, integer, malformed and past dates', async () => {
    const bad: unknown[] = [
      'not json',
      { dummy: 'meh' },
      { paths: ['notallowed'] },
      { paths: 'messages' },
      { methods: 'GET' },
      { expires: 'wrong date format' },
      { expires: 1767312000 },
      { expires: '1767312000' },
      { expires: '2025-12-31T23:59:59' },
      { expires: '2026-02-30T00:00:00' },
    ];
    for (const body of bad) {
      const answer = await api.call('POST', SHARE, { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    assert.equal((await api.call('POST', SHARE)).status, 400, 'a body is required');
    const unsigned = testApi({ service: { signedUrlSecret: null } });
    try {
      const refused = await unsigned.call('POST', SHARE, { body: {} });
      assert.equal(refused.status, 400);
      assert.match(refused.json.description, /secret_key/);
    } finally {
      await unsigned.close();
    }
  });

  it('a presented signature lets through its methods on its paths and what is under them, until it expires', async () => {
    const [id] = await post(api, 'shared_queue', 1);
    const signed = (await api.call('POST', SHARE, { body: { methods: ['GET', 'POST'] } })).json;
    const headers = {
      'url-signature': signed.signature,
      'url-expires': signed.expires,
      'url-methods': signed.methods.join(','),
      'url-paths': signed.paths.join(','),
    };
    const list = await api.call('GET', '/v2/queues/shared_queue/messages?echo=true', { headers });
    assert.equal(list.status, 200);
    assert.equal(list.json.messages.length, 1);
    assert.equal((await api.call('GET', `/v2/queues/shared_queue/messages/${id}`, { headers })).status, 200);
    const posted = await api.call('POST', '/v2/queues/shared_queue/messages', {
      headers,
      body: { messages: [{ body: 'signed' }] },
    });
    assert.equal(posted.status, 201);

    const refused: [string, string, Record<string, string>][] = [
      ['DELETE', `/v2/queues/shared_queue/messages/${id}`, headers],
      ['GET', '/v2/queues/shared_queue/stats', headers],
      ['GET', '/v2/queues/other/messages', headers],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-signature': 'dummy' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-methods': '' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-methods': 'POST,PUT' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-expires': 'not a real date' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-expires': '2015-01-01T00:00:00' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'url-paths': '/v2/queues/shared_queue/claims' }],
      ['GET', '/v2/queues/shared_queue/messages', { ...headers, 'x-project-id': 'another-project' }],
    ];
    for (const [method, url, h] of refused) {
      const answer = await api.call(method, url, { headers: h });
      assert.equal(answer.status, 404, `${method} ${url} ${JSON.stringify(h)}`);
    }
    assert.equal((await api.driver.queues.stats('test-project', 'shared_queue')).total, 2, 'the DELETE did nothing');
    api.clock.advance(86_401_000);
    const expired = await api.call('GET', '/v2/queues/shared_queue/messages', { headers });
    assert.equal(expired.status, 404, 'an expired signature lets nothing through');
  });
});
