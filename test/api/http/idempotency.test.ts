import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { readEncryptionKey } from '../../../src/service/index.js';
import { snapshot, type TestApi, testApi } from './helpers.js';

const URL = '/v2/queues/orders/messages';
const BATCH = { messages: [{ body: { order: 7 }, ttl: 300 }, { body: 'second' }] };

async function postWithKey(api: TestApi, key: string | undefined, body: unknown = BATCH) {
  return api.call('POST', URL, { body, headers: { 'idempotency-key': key } });
}

async function listed(api: TestApi): Promise<unknown[]> {
  const answer = await api.call('GET', `${URL}?echo=true&limit=20`);
  return answer.status === 204 ? [] : answer.json.messages.map((m: { body: unknown }) => m.body);
}

describe('http: Idempotency-Key on POST messages', () => {
  let api: TestApi;
  afterEach(() => api.close());

  it('a repeat answers the first 201 with the same resources and Location, and stores one copy', async () => {
    api = testApi();
    const first = await postWithKey(api, 'k-1');
    assert.equal(first.status, 201);
    assert.equal(first.json.resources.length, 2);
    const again = await postWithKey(api, 'k-1');
    assert.equal(again.status, 201);
    assert.deepEqual(again.json, first.json);
    assert.equal(again.headers.location, first.headers.location);
    assert.deepEqual(await listed(api), [{ order: 7 }, 'second']);
    // A body serialised with other whitespace is the same post.
    const spaced = await postWithKey(api, 'k-1', JSON.stringify(BATCH, null, 2));
    assert.deepEqual(spaced.json, first.json);
    // Without the header, or with another key, it is a new post.
    assert.equal((await postWithKey(api, undefined)).status, 201);
    const other = await postWithKey(api, 'k-2');
    assert.notDeepEqual(other.json, first.json);
    assert.equal((await listed(api)).length, 6);
  });

  it('the key with another body is 422 with a title and a description, and stores nothing', async () => {
    api = testApi();
    await postWithKey(api, 'k-1');
    const before = await snapshot(api.driver);
    const answer = await postWithKey(api, 'k-1', { messages: [{ body: { order: 8 }, ttl: 300 }, { body: 'second' }] });
    assert.equal(answer.status, 422);
    assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
    assert.equal(answer.json.title, 'Idempotency key reused');
    assert.match(answer.json.description, /k-1/);
    assert.match(answer.json.description, /other messages/);
    assert.deepEqual(await snapshot(api.driver), before);
  });

  it('a key that is empty or too long is 400 and stores nothing', async () => {
    api = testApi();
    for (const key of ['', 'k'.repeat(256)]) {
      const answer = await postWithKey(api, key);
      assert.equal(answer.status, 400, `key of ${key.length} characters`);
      assert.match(answer.json.description, /idempotencyKey/);
    }
    assert.deepEqual(await listed(api), []);
  });

  it('the queue window is _idempotency_window (checked like the other reserved keys)', async () => {
    api = testApi();
    for (const bad of [-1, 1.5, 1_209_601, 'long']) {
      const refused = await api.call('PUT', '/v2/queues/orders', { body: { _idempotency_window: bad } });
      assert.equal(refused.status, 400, `window ${JSON.stringify(bad)}`);
    }
    assert.equal((await api.call('PUT', '/v2/queues/orders', { body: { _idempotency_window: 60 } })).status, 201);
    const first = await postWithKey(api, 'k-1');
    api.clock.advance(59_000);
    assert.deepEqual((await postWithKey(api, 'k-1')).json, first.json);
    api.clock.advance(1_000);
    assert.notDeepEqual((await postWithKey(api, 'k-1')).json, first.json);
    assert.equal((await listed(api)).length, 4);
  });

  it('on a queue that encrypts its messages a repeat is still a repeat (bound to what the client sent)', async () => {
    const key = readEncryptionKey(randomBytes(32).toString('base64'), 'test key', 'k1');
    api = testApi({ service: { encryption: { current: key, old: [] } } });
    await api.call('PUT', '/v2/queues/orders', { body: { _enable_encrypt_messages: true } });
    const first = await postWithKey(api, 'k-1');
    assert.equal(first.status, 201);
    assert.deepEqual((await postWithKey(api, 'k-1')).json, first.json);
    assert.equal((await postWithKey(api, 'k-1', { messages: [{ body: 'other' }] })).status, 422);
    assert.deepEqual(await listed(api), [{ order: 7 }, 'second']);
  });
});
