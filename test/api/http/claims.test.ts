import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { post, snapshot, type TestApi, testApi } from './helpers.js';

describe('http: claims', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  it('POST claims the oldest free messages: 201 with hrefs carrying the claim id, and a Location', async () => {
    const ids = await post(api, 'fizbit', 10);
    const answer = await api.call('POST', '/v2/queues/fizbit/claims?limit=3', { body: { ttl: 100, grace: 60 } });
    assert.equal(answer.status, 201);
    const location = String(answer.headers.location);
    assert.match(location, /^\/v2\/queues\/fizbit\/claims\/[0-9a-f]+$/);
    const claimId = location.split('/').pop();
    assert.deepEqual(
      answer.json.messages.map((m: { id: string }) => m.id),
      ids.slice(0, 3),
    );
    for (const m of answer.json.messages) {
      assert.equal(m.href, `/v2/queues/fizbit/messages/${m.id}?claim_id=${claimId}`);
    }
    const rest = await api.call('POST', '/v2/queues/fizbit/claims', { body: { ttl: 100, grace: 60 } });
    assert.equal(rest.json.messages.length, 7, 'the default limit is 10, and only free messages are taken');
    const none = await api.call('POST', '/v2/queues/fizbit/claims', { body: { ttl: 100, grace: 60 } });
    assert.equal(none.status, 204);
    assert.equal(none.text, '');
    const missing = await api.call('POST', '/v2/queues/nonexistent/claims', { body: { ttl: 100, grace: 60 } });
    assert.equal(missing.status, 204);
  });

  it('GET shows age, ttl, href and the messages held; defaults are ttl 300 and grace 60', async () => {
    const start = api.clock.now();
    await post(api, 'q', 2, { ttl: 60 });
    const created = await api.call('POST', '/v2/queues/q/claims');
    assert.equal(created.status, 201, 'no body takes the defaults');
    const location = String(created.headers.location);
    api.clock.advance(10_000);
    const answer = await api.call('GET', location);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-location'], location);
    assert.deepEqual(Object.keys(answer.json), ['age', 'ttl', 'href', 'messages']);
    assert.equal(answer.json.ttl, 300);
    assert.equal(answer.json.age, 10);
    assert.equal(answer.json.href, location);
    assert.equal(answer.json.messages.length, 2);
    const message = await api.driver.messages.get('test-project', 'q', answer.json.messages[0].id);
    assert.equal(
      message.expiresAt,
      start + (300 + 60) * 1000,
      'a message living less than the claim gets its ttl plus grace',
    );
  });

  it('PATCH renews a claim (204), DELETE releases it (204); an expired claim frees its messages and is 404', async () => {
    await post(api, 'q', 2);
    const created = await api.call('POST', '/v2/queues/q/claims', { body: { ttl: 100, grace: 60 } });
    const location = String(created.headers.location);
    api.clock.advance(90_000);
    const renewed = await api.call('PATCH', location, { body: { ttl: 60, grace: 60 } });
    assert.equal(renewed.status, 204);
    api.clock.advance(30_000);
    const still = await api.call('GET', location);
    assert.equal(still.status, 200, 'renewed past its first ttl');
    assert.equal(still.json.ttl, 60);
    assert.equal(still.json.age, 30, 'age counts from the renewal');
    api.clock.advance(31_000);
    assert.equal((await api.call('GET', location)).status, 404);
    assert.equal((await api.call('PATCH', location, { body: { ttl: 100 } })).status, 404);
    const again = await api.call('POST', '/v2/queues/q/claims', { body: { ttl: 100, grace: 60 } });
    assert.equal(again.json.messages.length, 2, 'an expired claim holds nothing');
    const second = String(again.headers.location);
    assert.equal((await api.call('DELETE', second)).status, 204);
    assert.equal((await api.call('DELETE', second)).status, 204, 'releasing again is fine');
    assert.equal((await api.call('DELETE', '/v2/queues/q/claims/a')).status, 204);
    const free = await api.call('GET', '/v2/queues/q/messages?echo=true');
    assert.equal(free.json.messages.length, 2, 'released messages are free');
  });

  it('unknown claims are 404 to GET and PATCH; claims of a missing queue are 404', async () => {
    await post(api, 'q', 1);
    assert.equal((await api.call('GET', '/v2/queues/q/claims/a')).status, 404);
    assert.equal((await api.call('PATCH', '/v2/queues/q/claims/a', { body: { ttl: 100 } })).status, 404);
    assert.equal((await api.call('GET', '/v2/queues/nonexistent/claims/aaabbbba')).status, 404);
  });

  it('refuses bad claim documents and out-of-range ttl, grace and limit, claiming nothing', async () => {
    await post(api, 'q', 3);
    const before = await snapshot(api.driver);
    const bad: [string, string | object][] = [
      ['', '['],
      ['', '[]'],
      ['', '.'],
      ['', '"fail"'],
      ['', { ttl: -1, grace: -1 }],
      ['', { ttl: 59, grace: 60 }],
      ['', { ttl: 60, grace: 59 }],
      ['', { ttl: 60, grace: 43201 }],
      ['', { ttl: 43201, grace: 60 }],
      ['', { ttl: 'long' }],
      ['', { ttl: 100.5 }],
      ['?limit=21', { ttl: 100, grace: 60 }],
      ['?limit=0', { ttl: 100, grace: 60 }],
      ['?limit=-3', { ttl: 100, grace: 60 }],
      ['?limit=ten', { ttl: 100, grace: 60 }],
    ];
    for (const [query, body] of bad) {
      const answer = await api.call('POST', `/v2/queues/q/claims${query}`, { body });
      assert.equal(answer.status, 400, `${query} ${JSON.stringify(body)}`);
    }
    assert.deepEqual(await snapshot(api.driver), before, 'no message was claimed');
    const created = await api.call('POST', '/v2/queues/q/claims', { body: { ttl: 100, grace: 60 } });
    const location = String(created.headers.location);
    for (const body of ['[', '[]', '.', '"fail"', { ttl: -1 }, { ttl: 59 }, { ttl: 43201 }]) {
      const answer = await api.call('PATCH', location, { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    const empty = await api.call('PATCH', location);
    assert.equal(empty.status, 400);
    assert.equal(empty.json.title, 'Invalid request body');
    assert.equal((await api.call('GET', location)).json.ttl, 100, 'the claim kept its terms');
  });

  it('v1.1 serves the same claims', async () => {
    await post(api, 'q', 2);
    const answer = await api.call('POST', '/v1.1/queues/q/claims?limit=1', { body: { ttl: 60, grace: 60 } });
    assert.equal(answer.status, 201);
    assert.match(String(answer.headers.location), /^\/v1\.1\/queues\/q\/claims\//);
    assert.match(answer.json.messages[0].href, /^\/v1\.1\/queues\/q\/messages\/[0-9a-f]+\?claim_id=/);
  });
});
