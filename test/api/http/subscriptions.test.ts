import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { snapshot, type TestApi, testApi } from './helpers.js';

const PATH = '/v2/queues/fake-topic/subscriptions';

describe('http: subscriptions', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  const subscribe = (subscriber = 'http://triger.me', ttl: unknown = 600, options: unknown = { a: 1 }) =>
    api.call('POST', PATH, { body: { subscriber, ttl, options } });

  it('POST subscribes (201, the id, Location), creating the queue; GET and the list show it', async () => {
    const created = await subscribe();
    assert.equal(created.status, 201);
    assert.equal(created.headers.location, PATH);
    const id = created.json.subscription_id;
    assert.equal(typeof id, 'string');
    assert.equal(await api.driver.queues.exists('test-project', 'fake-topic'), true);
    api.clock.advance(5_000);
    const got = await api.call('GET', `${PATH}/${id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, {
      id,
      subscriber: 'http://triger.me',
      source: 'fake-topic',
      ttl: 600,
      age: 5,
      options: { a: 1 },
      confirmed: false,
    });
    const list = await api.call('GET', PATH);
    assert.deepEqual(list.json.subscriptions, [got.json]);
    assert.equal(list.json.links[0].rel, 'next');
    const defaults = await api.call('POST', PATH, { body: { subscriber: 'mailto:ops@example.com' } });
    const made = await api.call('GET', `${PATH}/${defaults.json.subscription_id}`);
    assert.equal(made.json.ttl, 3600);
    assert.deepEqual(made.json.options, {});
  });

  it('subscribing again gives the same id while unconfirmed, and 409 once confirmed', async () => {
    const first = await subscribe('http://CCC.com');
    const second = await subscribe('http://CCC.com');
    assert.equal(second.status, 201);
    assert.equal(second.json.subscription_id, first.json.subscription_id);
    const confirm = await api.call('PUT', `${PATH}/${first.json.subscription_id}/confirm`, {
      body: { confirmed: true },
    });
    assert.equal(confirm.status, 204);
    assert.equal((await api.call('GET', `${PATH}/${first.json.subscription_id}`)).json.confirmed, true);
    const third = await subscribe('http://CCC.com');
    assert.equal(third.status, 409);
    assert.equal(third.json.title, 'Resource conflict');
    const unconfirm = await api.call('PUT', `${PATH}/${first.json.subscription_id}/confirm`, {
      body: { confirmed: false },
    });
    assert.equal(unconfirm.status, 204);
    assert.equal((await api.call('GET', `${PATH}/${first.json.subscription_id}`)).json.confirmed, false);
  });

  it('lists in pages through next links; an empty list has no links', async () => {
    const empty = await api.call('GET', PATH);
    assert.deepEqual(empty.json, { subscriptions: [], links: [] });
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) ids.push((await subscribe(`http://${i}.example`)).json.subscription_id);
    const seen: string[] = [];
    let answer = await api.call('GET', `${PATH}?limit=4`);
    while (answer.json.subscriptions.length > 0) {
      seen.push(...answer.json.subscriptions.map((s: { id: string }) => s.id));
      assert.match(answer.json.links[0].href, /limit=4/);
      answer = await api.call('GET', answer.json.links[0].href);
    }
    assert.deepEqual(seen, ids);
    assert.equal((await api.call('GET', `${PATH}?limit=21`)).status, 400);
    assert.deepEqual((await api.call('GET', '/v2/queues/none/subscriptions')).json, { subscriptions: [], links: [] });
  });

  it('PATCH changes ttl, options or subscriber (204); 404 when missing, 409 onto another subscriber', async () => {
    const id = (await subscribe()).json.subscription_id;
    const changed = await api.call('PATCH', `${PATH}/${id}`, { body: { ttl: 300, options: { b: 2 } } });
    assert.equal(changed.status, 204);
    const got = await api.call('GET', `${PATH}/${id}`);
    assert.equal(got.json.ttl, 300);
    assert.deepEqual(got.json.options, { b: 2 });
    assert.equal((await api.call('PATCH', `${PATH}/x`, { body: { ttl: 300 } })).status, 404);
    const other = (await subscribe('http://update.me')).json.subscription_id;
    const clash = await api.call('PATCH', `${PATH}/${other}`, { body: { subscriber: 'http://triger.me' } });
    assert.equal(clash.status, 409);
    const moved = await api.call('PATCH', `${PATH}/${other}`, { body: { subscriber: 'https://moved.example' } });
    assert.equal(moved.status, 204);
    assert.equal((await api.call('GET', `${PATH}/${other}`)).json.subscriber, 'https://moved.example');
  });

  it('refuses bad subscription documents with 400, writing nothing', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['POST', '{"subscriber": "http://x", "options": xxx}', /could not be parsed/],
      ['POST', undefined, /subscriber/],
      ['POST', { subscriber: 'fake' }, /supported types/],
      ['POST', { subscriber: 'email://fake' }, /supported types/],
      ['POST', { subscriber: 'http://x', options: 1 }, /object/],
      ['POST', { subscriber: 'http://x', ttl: 'invalid' }, /integer/],
      ['POST', { subscriber: 'http://x', ttl: 59 }, /at least 60/],
      ['POST', { subscriber: 'http://x', options: { _retry_policy: { minimum_delay: 'soon' } } }, /minimum_delay/],
      ['POST', [1], /object/],
    ];
    for (const [method, body, description] of cases) {
      const answer = await api.call(method, PATH, body === undefined ? {} : { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(answer.json.description, description, JSON.stringify(body));
    }
    assert.deepEqual(await snapshot(api.driver), [], 'not even the queue was created');
    const id = (await subscribe()).json.subscription_id;
    for (const body of [undefined, {}, [1], { ttl: 'invalid' }, { colour: 'red' }, { subscriber: 'gopher://x' }]) {
      const answer = await api.call('PATCH', `${PATH}/${id}`, body === undefined ? {} : { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    for (const body of ['{confirmed:123}', { confirmed: 123 }, {}]) {
      const answer = await api.call('PUT', `${PATH}/${id}/confirm`, { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    const got = await api.call('GET', `${PATH}/${id}`);
    assert.equal(got.json.ttl, 600);
    assert.equal(got.json.confirmed, false);
  });

  it('GET, confirm of an unknown subscription are 404; DELETE is 204 and the subscription is gone', async () => {
    assert.equal((await api.call('GET', `${PATH}/fake`)).status, 404);
    await api.call('PUT', '/v2/queues/fake-topic');
    assert.equal((await api.call('PUT', `${PATH}/fake/confirm`, { body: { confirmed: true } })).status, 404);
    const id = (await subscribe()).json.subscription_id;
    assert.equal((await api.call('DELETE', `${PATH}/${id}`)).status, 204);
    assert.equal((await api.call('GET', `${PATH}/${id}`)).status, 404);
    assert.equal((await api.call('DELETE', `${PATH}/${id}`)).status, 204);
  });

  it('a subscription lives its ttl', async () => {
    const id = (await subscribe('http://short.example', 60)).json.subscription_id;
    api.clock.advance(61_000);
    assert.equal((await api.call('GET', `${PATH}/${id}`)).status, 404);
  });
});
