import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PATCH_TYPE, type TestApi, testApi } from './helpers.js';

describe('http: topics', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  it('mirror queues: create, metadata with the topic defaults, patch, list, stats, delete', async () => {
    assert.equal((await api.call('PUT', '/v2/topics/news', { body: { lang: 'en' } })).status, 201);
    assert.equal((await api.call('PUT', '/v2/topics/news')).status, 204);
    const got = await api.call('GET', '/v2/topics/news');
    assert.deepEqual(got.json, {
      lang: 'en',
      _max_messages_post_size: 262144,
      _default_message_ttl: 3600,
      _default_message_delay: 0,
    });
    const patched = await api.call('PATCH', '/v2/topics/news', {
      body: [{ op: 'replace', path: '/metadata/lang', value: 'fr' }],
      contentType: PATCH_TYPE,
    });
    assert.equal(patched.json.lang, 'fr');
    const list = await api.call('GET', '/v2/topics');
    assert.deepEqual(list.json.topics, [{ name: 'news', href: '/v2/topics/news' }]);
    assert.equal(list.json.queues, undefined);
    const stats = await api.call('GET', '/v2/topics/news/stats');
    assert.deepEqual(stats.json, { messages: { claimed: 0, free: 0, total: 0 } });
    assert.equal((await api.call('DELETE', '/v2/topics/news')).status, 204);
    const missing = await api.call('GET', '/v2/topics/news');
    assert.equal(missing.status, 404);
    assert.match(missing.json.description, /topic "news"/);
    assert.equal(missing.json.description.includes('\u001f'), false, 'the namespace never shows');
  });

  it('are separate from queues of the same name', async () => {
    await api.call('POST', '/v2/topics/events/messages', { body: { messages: [{ body: 'to the topic' }] } });
    await api.call('POST', '/v2/queues/events/messages', { body: { messages: [{ body: 'to the queue' }] } });
    const topic = await api.call('GET', '/v2/topics/events/messages?echo=true');
    const queue = await api.call('GET', '/v2/queues/events/messages?echo=true');
    assert.deepEqual(
      topic.json.messages.map((m: { body: unknown }) => m.body),
      ['to the topic'],
    );
    assert.deepEqual(
      queue.json.messages.map((m: { body: unknown }) => m.body),
      ['to the queue'],
    );
    assert.match(topic.json.messages[0].href, /^\/v2\/topics\/events\/messages\//);
    assert.deepEqual(
      (await api.call('GET', '/v2/queues')).json.queues.map((q: { name: string }) => q.name),
      ['events'],
    );
    await api.call('DELETE', '/v2/topics/events');
    assert.equal((await api.call('GET', '/v2/queues/events/messages?echo=true')).json.messages.length, 1);
  });

  it('carry messages (get, delete, pop) and subscriptions, but no claims', async () => {
    const posted = await api.call('POST', '/v2/topics/t/messages', {
      body: { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] },
    });
    const hrefs: string[] = posted.json.resources;
    assert.equal((await api.call('GET', hrefs[0] as string)).json.body, 1);
    assert.equal((await api.call('DELETE', hrefs[0] as string)).status, 204);
    const popped = await api.call('DELETE', '/v2/topics/t/messages?pop=1');
    assert.equal(popped.json.messages[0].body, 2);
    const sub = await api.call('POST', '/v2/topics/t/subscriptions', { body: { subscriber: 'http://hook.example' } });
    assert.equal(sub.status, 201);
    const subs = await api.call('GET', '/v2/topics/t/subscriptions');
    assert.equal(subs.json.subscriptions[0].source, 't');
    assert.equal((await api.call('POST', '/v2/topics/t/purge')).status, 204);
    assert.deepEqual((await api.call('GET', '/v2/topics/t/subscriptions')).json.subscriptions, []);
    assert.equal((await api.call('POST', '/v2/topics/t/claims', { body: {} })).status, 404);
    const badName = await api.call('PUT', '/v2/topics/bad@name');
    assert.equal(badName.status, 400);
    assert.equal(badName.json.title, 'Invalid topic identification');
  });
});
