import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PATCH_TYPE, post, snapshot, type TestApi, testApi } from './helpers.js';

const DEFAULTS = {
  _max_messages_post_size: 262144,
  _default_message_ttl: 3600,
  _default_message_delay: 0,
  _dead_letter_queue: null,
  _dead_letter_queue_messages_ttl: null,
  _max_claim_count: null,
  _enable_encrypt_messages: false,
};

describe('http: queues', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  it('PUT creates with 201 and Location, again with 204 without changing the metadata', async () => {
    const created = await api.call('PUT', '/v2/queues/fizbit', { body: { color: 'red' } });
    assert.equal(created.status, 201);
    assert.equal(created.headers.location, '/v2/queues/fizbit');
    assert.equal(created.text, '');
    const again = await api.call('PUT', '/v2/queues/fizbit', { body: { color: 'blue' } });
    assert.equal(again.status, 204);
    assert.deepEqual(await api.driver.queues.getMetadata('test-project', 'fizbit'), { color: 'red' });
    const bare = await api.call('PUT', '/v2/queues/bare');
    assert.equal(bare.status, 201);
    const empty = await api.call('PUT', '/v2/queues/empty', { body: '' });
    assert.equal(empty.status, 201, 'an empty body is no metadata');
  });

  it('GET shows the metadata with every reserved default filled in; v1.1 shows it as stored', async () => {
    await api.call('PUT', '/v2/queues/q', { body: { node: 31, _default_message_ttl: 0 } });
    const answer = await api.call('GET', '/v2/queues/q');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { node: 31, ...DEFAULTS });
    const old = await api.call('GET', '/v1.1/queues/q');
    assert.deepEqual(old.json, { node: 31, _default_message_ttl: 0 });
    const missing = await api.call('GET', '/v2/queues/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.title, 'Not found');
  });

  it('PUT checks the reserved keys and refuses bad documents, writing nothing', async () => {
    const bad: [unknown, RegExp][] = [
      [{ _default_message_ttl: 59 }, /_default_message_ttl/],
      [{ _default_message_ttl: 'long' }, /integer/],
      [{ _max_messages_post_size: 262145 }, /_max_messages_post_size/],
      [{ _default_message_delay: 901 }, /_default_message_delay/],
      [{ _max_claim_count: -1 }, /_max_claim_count/],
      [{ _dead_letter_queue: 'no spaces' }, /_dead_letter_queue/],
      [{ _dead_letter_queue_messages_ttl: 10 }, /_dead_letter_queue_messages_ttl/],
      [{ _enable_encrypt_messages: 'yes' }, /boolean/],
      [{ _retry_policy: { retry_backoff_function: 'cubic' } }, /retry_backoff_function/],
      [{ _retry_policy: { minimum_delay: 10, maximum_delay: 12 } }, /maximum_delay/],
    ];
    for (const [body, description] of bad) {
      const answer = await api.call('PUT', '/v2/queues/q', { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.title, 'Invalid API request');
      assert.match(answer.json.description, description);
    }
    for (const body of ['{', '[]', '.', '  ', '"text"', '[{"a": 1}]']) {
      const answer = await api.call('PUT', '/v2/queues/q', { body });
      assert.equal(answer.status, 400, body);
      assert.equal(answer.json.title, 'Invalid request body');
    }
    assert.deepEqual(await snapshot(api.driver), []);
  });

  it('PUT refuses metadata over 64 KiB before reading it, and accepts it at the limit', async () => {
    const shell = '{"padding": ""}';
    const atLimit = `{"padding": "${'x'.repeat(65536 - shell.length)}"}`;
    assert.equal(Buffer.byteLength(atLimit), 65536);
    assert.equal((await api.call('PUT', '/v2/queues/fits', { body: atLimit })).status, 201);
    const over = await api.call('PUT', '/v2/queues/over', { body: `${atLimit} ` });
    assert.equal(over.status, 400);
    assert.match(over.json.description, /too large/);
    assert.equal(await api.driver.queues.exists('test-project', 'over'), false);
  });

  it('lists queues by name with limit, marker, detailed, name, metadata filters and with_count', async () => {
    const empty = await api.call('GET', '/v2/queues');
    assert.deepEqual(empty.json, { queues: [], links: [] });
    for (const [name, node] of [
      ['q1', 31],
      ['q2', 32],
      ['q3', 33],
      ['other', 31],
    ] as const) {
      await api.call('PUT', `/v2/queues/${name}`, { body: { node } });
    }
    const first = await api.call('GET', '/v2/queues?limit=2');
    assert.deepEqual(
      first.json.queues.map((q: { name: string }) => q.name),
      ['other', 'q1'],
    );
    assert.equal(first.json.queues[0].href, '/v2/queues/other');
    assert.equal(first.json.queues[0].metadata, undefined);
    const next = first.json.links[0];
    assert.equal(next.rel, 'next');
    const second = await api.call('GET', next.href);
    assert.deepEqual(
      second.json.queues.map((q: { name: string }) => q.name),
      ['q2', 'q3'],
    );
    const third = await api.call('GET', second.json.links[0].href);
    assert.deepEqual(third.json, { queues: [], links: [] });

    const detailed = await api.call('GET', '/v2/queues?detailed=true&limit=1');
    assert.deepEqual(detailed.json.queues[0].metadata, { node: 31, ...DEFAULTS });
    const named = await api.call('GET', '/v2/queues?name=q');
    assert.deepEqual(
      named.json.queues.map((q: { name: string }) => q.name),
      ['q1', 'q2', 'q3'],
    );
    const filtered = await api.call('GET', '/v2/queues?node=31&with_count=true');
    assert.deepEqual(
      filtered.json.queues.map((q: { name: string }) => q.name),
      ['other', 'q1'],
    );
    assert.equal(filtered.json.count, 2);
    const nextFiltered = await api.call('GET', `${filtered.json.links[0].href}`);
    assert.deepEqual(nextFiltered.json.queues, [], 'the next link keeps the filter');
    const otherProject = await api.call('GET', '/v2/queues', { headers: { 'x-project-id': 'elsewhere' } });
    assert.deepEqual(otherProject.json.queues, []);
    const tooMany = await api.call('GET', '/v2/queues?limit=21');
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.title, 'Invalid API request');
  });

  it('DELETE is 204 whether or not the queue exists, and takes its messages along', async () => {
    await post(api, 'q', 3);
    assert.equal((await api.call('DELETE', '/v2/queues/q')).status, 204);
    assert.equal((await api.call('DELETE', '/v2/queues/q')).status, 204);
    assert.equal(await api.driver.queues.exists('test-project', 'q'), false);
    const list = await api.call('GET', '/v2/queues/q/messages?echo=true');
    assert.deepEqual(list.json.messages, []);
  });

  it('stats count claimed, free and total with the oldest and newest; a missing queue has zeros', async () => {
    const missing = await api.call('GET', '/v2/queues/nope/stats');
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.json, { messages: { claimed: 0, free: 0, total: 0 } });
    const ids = await post(api, 'q', 3);
    api.clock.advance(10_000);
    await api.call('POST', '/v2/queues/q/claims?limit=1', { body: { ttl: 60, grace: 60 } });
    const stats = await api.call('GET', '/v2/queues/q/stats');
    const m = stats.json.messages;
    assert.deepEqual([m.claimed, m.free, m.total], [1, 2, 3]);
    assert.equal(m.oldest.href, `/v2/queues/q/messages/${ids[0]}`);
    assert.equal(m.newest.href, `/v2/queues/q/messages/${ids[2]}`);
    assert.equal(m.oldest.age, 10);
    assert.equal(m.oldest.created, '2026-01-01T00:00:00Z');
  });

  it('PATCH adds, replaces and removes keys; reserved keys always exist; answers the new metadata', async () => {
    await api.call('PUT', '/v2/queues/xyz');
    const patch = (body: unknown) => api.call('PATCH', '/v2/queues/xyz', { body, contentType: PATCH_TYPE });
    let answer = await patch([
      { op: 'add', path: '/metadata/key1', value: 1 },
      { op: 'add', path: '/metadata/key2', value: 1 },
    ]);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { key1: 1, key2: 1, ...DEFAULTS });
    answer = await patch([{ op: 'remove', path: '/metadata/_default_message_ttl' }]);
    assert.equal(answer.status, 200, 'removing an unset reserved key is fine');
    answer = await patch([
      { op: 'replace', path: '/metadata/key1', value: 2 },
      { op: 'replace', path: '/metadata/_default_message_ttl', value: 300 },
    ]);
    assert.equal(answer.status, 200);
    assert.deepEqual(await api.driver.queues.getMetadata('test-project', 'xyz'), {
      key1: 2,
      key2: 1,
      _default_message_ttl: 300,
    });
    answer = await patch([
      { op: 'remove', path: '/metadata/key1' },
      { op: 'remove', path: '/metadata/_default_message_ttl' },
    ]);
    assert.deepEqual(answer.json, { key2: 1, ...DEFAULTS });
    for (const op of ['replace', 'remove']) {
      const conflict = await patch([{ op, path: '/metadata/key3', value: 2 }]);
      assert.equal(conflict.status, 409, op);
      assert.equal(conflict.json.title, 'Resource conflict');
    }
    assert.deepEqual(
      await api.driver.queues.getMetadata('test-project', 'xyz'),
      { key2: 1 },
      'conflicts change nothing',
    );
    await api.call('DELETE', '/v2/queues/xyz');
    const missing = await patch([{ op: 'add', path: '/metadata/key1', value: 1 }]);
    assert.equal(missing.status, 404);
  });

  it('PATCH wants its media type (415 with Accept-Patch), a body, and well-formed operations', async () => {
    await api.call('PUT', '/v2/queues/xyz', { body: { keep: true } });
    const plain = await api.call('PATCH', '/v2/queues/xyz', { body: [{ op: 'add', path: '/metadata/a', value: 1 }] });
    assert.equal(plain.status, 415);
    assert.equal(plain.headers['accept-patch'], PATCH_TYPE);
    const empty = await api.call('PATCH', '/v2/queues/xyz', { headers: { 'content-type': PATCH_TYPE } });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.title, 'Invalid request body');
    const bad: unknown[] = [
      '{"op": "add"}',
      '[1]',
      [{ path: '/metadata/a', value: 1 }],
      [{ op: 'move', path: '/metadata/a', value: 1 }],
      [{ op: 'add', value: 1 }],
      [{ op: 'add', path: 'metadata/a', value: 1 }],
      [{ op: 'add', path: '/metadata', value: 1 }],
      [{ op: 'add', path: '/other/a', value: 1 }],
      [{ op: 'add', path: '/metadata/a/b', value: 1 }],
      [{ op: 'add', path: '/metadata//a', value: 1 }],
      [{ op: 'add', path: '/metadata/a~2', value: 1 }],
      [{ op: 'add', path: '/metadata/a' }],
      [{ op: 'add', path: '/metadata/_default_message_ttl', value: 10 }],
    ];
    for (const body of bad) {
      const answer = await api.call('PATCH', '/v2/queues/xyz', { body, contentType: PATCH_TYPE });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.title, 'Invalid request body', JSON.stringify(body));
    }
    assert.deepEqual(await api.driver.queues.getMetadata('test-project', 'xyz'), { keep: true });
  });

  it('purge removes every message (claimed too) and/or every subscription', async () => {
    await post(api, 'q', 5);
    await api.call('POST', '/v2/queues/q/claims?limit=2', { body: {} });
    await api.call('POST', '/v2/queues/q/subscriptions', { body: { subscriber: 'http://example.com/a' } });
    let answer = await api.call('POST', '/v2/queues/q/purge', { body: { resource_types: ['messages'] } });
    assert.equal(answer.status, 204);
    assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 0);
    assert.equal((await api.driver.subscriptions.list('test-project', 'q')).subscriptions.length, 1);
    await post(api, 'q', 2);
    answer = await api.call('POST', '/v2/queues/q/purge', { body: { resource_types: ['subscriptions'] } });
    assert.equal(answer.status, 204);
    assert.equal((await api.driver.subscriptions.list('test-project', 'q')).subscriptions.length, 0);
    assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 2);
    answer = await api.call('POST', '/v2/queues/q/purge');
    assert.equal(answer.status, 204);
    assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 0);
    assert.equal((await api.call('POST', '/v2/queues/never/purge')).status, 204);
    for (const body of [{}, { resource_types: ['claims'] }, { resource_types: 'messages' }]) {
      await post(api, 'q', 1);
      const refused = await api.call('POST', '/v2/queues/q/purge', { body });
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 1, 'a refused purge purges nothing');
      await api.call('POST', '/v2/queues/q/purge');
    }
  });
});
