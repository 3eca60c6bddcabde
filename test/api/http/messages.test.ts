import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pythonJson } from '../../../src/service/index.js';
import { OTHER_CLIENT, post, snapshot, type TestApi, testApi } from './helpers.js';

describe('http: messages', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  it('POST answers 201 with the resources and a Location listing the ids, creating the queue', async () => {
    const answer = await api.call('POST', '/v2/queues/fizbit/messages', {
      body: { messages: [{ body: 239, ttl: 100 }, { body: { key: 'value' } }, { body: [1, 3], ttl: 300 }] },
    });
    assert.equal(answer.status, 201);
    const ids = (answer.json.resources as string[]).map((r) => r.split('/').pop());
    assert.equal(ids.length, 3);
    assert.deepEqual(
      answer.json.resources,
      ids.map((id) => `/v2/queues/fizbit/messages/${id}`),
    );
    assert.equal(answer.headers.location, `/v2/queues/fizbit/messages?ids=${ids.join(',')}`);
    assert.equal(answer.json.partial, undefined);
    const got = await api.call('GET', `/v2/queues/fizbit/messages?ids=${ids.join(',')}`);
    assert.deepEqual(
      got.json.messages.map((m: { ttl: number; body: unknown }) => [m.ttl, m.body]),
      [
        [100, 239],
        [3600, { key: 'value' }],
        [300, [1, 3]],
      ],
    );
  });

  it("POST takes the queue's default ttl and delay; a message's own delay hides it from claims", async () => {
    await api.call('PUT', '/v2/queues/slow', { body: { _default_message_ttl: 999, _default_message_delay: 30 } });
    const [id] = await post(api, 'slow', 1, { ttl: undefined });
    const message = await api.call('GET', `/v2/queues/slow/messages/${id}`);
    assert.equal(message.json.ttl, 999);
    const claim = await api.call('POST', '/v2/queues/slow/claims', { body: {} });
    assert.equal(claim.status, 204, 'delayed by the queue default');
    const listed = await api.call('GET', '/v2/queues/slow/messages?echo=true');
    assert.deepEqual(listed.json.messages, [], 'a queue with a default delay hides delayed messages');
    const withDelayed = await api.call('GET', '/v2/queues/slow/messages?echo=true&include_delayed=true');
    assert.equal(withDelayed.json.messages.length, 1);
    api.clock.advance(30_000);
    assert.equal((await api.call('POST', '/v2/queues/slow/claims', { body: {} })).status, 201);

    await post(api, 'plain', 1, { delay: 60 });
    assert.equal((await api.call('POST', '/v2/queues/plain/claims', { body: {} })).status, 204);
    const plainList = await api.call('GET', '/v2/queues/plain/messages?echo=true');
    assert.equal(plainList.json.messages.length, 1, 'Zaqar lists delayed messages of queues without a default delay');
  });

  it('a client does not see its own messages unless echo=true; include_claimed shows claimed ones', async () => {
    await post(api, 'q', 3);
    const own = await api.call('GET', '/v2/queues/q/messages');
    assert.deepEqual(own.json, { messages: [], links: [] });
    const other = await api.call('GET', '/v2/queues/q/messages', { headers: { 'client-id': OTHER_CLIENT } });
    assert.equal(other.json.messages.length, 3);
    const undashed = await api.call('GET', '/v2/queues/q/messages', {
      headers: { 'client-id': '3381AF922B9E11E3B19171861300734C' },
    });
    assert.deepEqual(undashed.json.messages, [], 'the same UUID written another way is the same client');
    await api.call('POST', '/v2/queues/q/claims?limit=2', { body: {} });
    const free = await api.call('GET', '/v2/queues/q/messages?echo=true');
    assert.equal(free.json.messages.length, 1);
    const all = await api.call('GET', '/v2/queues/q/messages?echo=true&include_claimed=true');
    assert.equal(all.json.messages.length, 3);
    assert.match(all.json.messages[0].href, /\?claim_id=[0-9a-f]+$/);
    assert.doesNotMatch(all.json.messages[2].href, /claim_id/);
  });

  it('listing pages oldest first through next links that keep the parameters, then ends empty', async () => {
    const ids = await post(api, 'q', 10);
    const seen: string[] = [];
    let answer = await api.call('GET', '/v2/queues/q/messages?limit=3&echo=true');
    let pages = 0;
    while (answer.json.messages.length > 0) {
      pages++;
      for (const m of answer.json.messages) {
        seen.push(m.id);
        assert.deepEqual(Object.keys(m), ['id', 'href', 'ttl', 'age', 'body']);
        assert.equal((await api.call('GET', m.href)).status, 200);
      }
      const next: string = answer.json.links[0].href;
      assert.match(next, /^\/v2\/queues\/q\/messages\?marker=[^&]+&limit=3&echo=true$/);
      answer = await api.call('GET', next);
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, ids);
    assert.deepEqual(answer.json, { messages: [], links: [] });
    const bogus = await api.call('GET', '/v2/queues/q/messages?limit=3&echo=true&marker=sfhlsfdjh2048');
    assert.deepEqual(bogus.json, { messages: [], links: [] }, 'a marker the store never made points nowhere');
    const missing = await api.call('GET', '/v2/queues/nonexistent/messages');
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.json, { messages: [], links: [] });
  });

  it('GET by ids returns the live ones and 404 when none is; more than 20 ids is 400', async () => {
    const ids = await post(api, 'q', 2);
    const some = await api.call('GET', `/v2/queues/q/messages?ids=${ids[0]},nope`);
    assert.deepEqual(
      some.json.messages.map((m: { id: string }) => m.id),
      [ids[0]],
    );
    assert.equal(some.json.links, undefined);
    const repeated = await api.call('GET', `/v2/queues/q/messages?ids=${ids[0]}&ids=${ids[1]}`);
    assert.equal(repeated.json.messages.length, 2, 'repeated ids parameters add up');
    const none = await api.call('GET', '/v2/queues/notthere/messages?ids=a,b,c');
    assert.equal(none.status, 404);
    const tooMany = await api.call('GET', `/v2/queues/q/messages?ids=${Array(21).fill(ids[0]).join(',')}`);
    assert.equal(tooMany.status, 400);
  });

  it('DELETE by ids is 204 even for unknown ids and missing queues; deletes claimed ones too', async () => {
    const ids = await post(api, 'q', 5);
    await api.call('POST', '/v2/queues/q/claims?limit=1', { body: {} });
    const gone = await api.call('DELETE', `/v2/queues/q/messages?ids=${ids.slice(0, 3).join(',')}`);
    assert.equal(gone.status, 204);
    assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 2);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages?ids=${ids[0]}`)).status, 204);
    assert.equal((await api.call('DELETE', '/v2/queues/notthere/messages?ids=a,b,c')).status, 204);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages?ids=${Array(21).fill('x').join(',')}`)).status, 400);
  });

  it('pop takes the oldest free messages with their claim counts', async () => {
    const ids = await post(api, 'q', 5);
    const answer = await api.call('DELETE', '/v2/queues/q/messages?pop=2');
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.json.messages.map((m: { id: string }) => m.id),
      ids.slice(0, 2),
    );
    assert.deepEqual(Object.keys(answer.json.messages[0]).sort(), [
      'age',
      'body',
      'claim_count',
      'claim_id',
      'id',
      'ttl',
    ]);
    assert.equal((await api.call('GET', `/v2/queues/q/messages/${ids[0]}`)).status, 404);
    const empty = await api.call('DELETE', '/v2/queues/empty/messages?pop=1');
    assert.deepEqual(empty.json, { messages: [] });
    for (const query of ['', '?pop=1000000', '?pop=10&ids=1', '?pop=-1', '?pop=0', '?pop=x']) {
      const refused = await api.call('DELETE', `/v2/queues/q/messages${query}`);
      assert.equal(refused.status, 400, query);
    }
    assert.equal((await api.driver.queues.stats('test-project', 'q')).total, 3, 'refused pops took nothing');
  });

  it('GET one message: 200 with its href (with the claim id when claimed), 404 when gone', async () => {
    const [id] = await post(api, 'q', 1);
    const plain = await api.call('GET', `/v2/queues/q/messages/${id}`);
    assert.deepEqual(plain.json, { id, href: `/v2/queues/q/messages/${id}`, ttl: 300, age: 0, body: 0 });
    const claim = await api.call('POST', '/v2/queues/q/claims', { body: {} });
    const claimId = String(claim.headers.location).split('/').pop();
    const claimed = await api.call('GET', `/v2/queues/q/messages/${id}`);
    assert.equal(claimed.json.href, `/v2/queues/q/messages/${id}?claim_id=${claimId}`);
    const otherProject = await api.call('GET', `/v2/queues/q/messages/${id}`, { headers: { 'x-project-id': '777' } });
    assert.equal(otherProject.status, 404);
    assert.equal((await api.call('GET', '/v2/queues/notthere/messages/a')).status, 404);
  });

  it('DELETE one message: 204; a claimed one needs its claim (403 without, 400 for a released one)', async () => {
    const ids = await post(api, 'q', 3);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages/${ids[2]}`)).status, 204);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages/${ids[2]}`)).status, 204, 'again is fine');
    const first = await api.call('POST', '/v2/queues/q/claims?limit=1', { body: {} });
    const second = await api.call('POST', '/v2/queues/q/claims?limit=1', { body: {} });
    const [href1] = first.json.messages.map((m: { href: string }) => m.href);
    const claim2 = String(second.headers.location).split('/').pop();
    const noClaim = await api.call('DELETE', `/v2/queues/q/messages/${ids[0]}`);
    assert.equal(noClaim.status, 403);
    assert.equal(noClaim.json.title, 'Unable to delete');
    const wrongClaim = await api.call('DELETE', `/v2/queues/q/messages/${ids[0]}?claim_id=${claim2}`);
    assert.equal(wrongClaim.status, 403);
    const free = await api.call('DELETE', `/v2/queues/q/messages/${ids[0]}?claim_id=${claim2}`);
    assert.equal(free.status, 403);
    assert.equal((await api.call('DELETE', href1)).status, 204, 'with its claim it goes');
    await api.call('DELETE', String(second.headers.location));
    const released = await api.call('DELETE', `/v2/queues/q/messages/${ids[1]}?claim_id=${claim2}`);
    assert.equal(released.status, 400);
    assert.equal(released.json.title, 'Unable to delete');
    assert.equal((await api.call('GET', `/v2/queues/q/messages/${ids[1]}`)).status, 200, 'and it stays');
  });

  it("refuses a post over the queue's own size limit and writes nothing", async () => {
    await api.call('PUT', '/v2/queues/small', { body: { _max_messages_post_size: 1023 } });
    const big = await api.call('POST', '/v2/queues/small/messages', {
      body: { messages: [{ body: { key: 'a'.repeat(1204) } }] },
    });
    assert.equal(big.status, 400);
    assert.match(big.json.description, /1023/);
    const fits = await api.call('POST', '/v2/queues/small/messages', {
      body: { messages: [{ body: 'a'.repeat(900) }] },
    });
    assert.equal(fits.status, 201);
    assert.equal((await api.driver.queues.stats('test-project', 'small')).total, 1);
  });

  it('refuses bad message documents with 400 and writes nothing', async () => {
    const bad: [string | object, string][] = [
      ['[', 'Invalid request body'],
      ['.', 'Invalid request body'],
      ['[]', 'Invalid API request'],
      ['{}', 'Invalid API request'],
      [{ messages: [] }, 'Invalid API request'],
      [{ messages: {} }, 'Invalid request body'],
      [{ messages: [1] }, 'Invalid request body'],
      [{ messages: [{ ttl: 100 }] }, 'Invalid request body'],
      [{ messages: [{ body: 1, ttl: '100' }] }, 'Invalid request body'],
      [{ messages: [{ body: 1, ttl: 59 }] }, 'Invalid API request'],
      [{ messages: [{ body: 1, ttl: -1 }] }, 'Invalid API request'],
      [{ messages: [{ body: 1, ttl: 1209601 }] }, 'Invalid API request'],
      [{ messages: [{ body: 1, delay: 901 }] }, 'Invalid API request'],
      [{ messages: [{ body: 1, delay: -1 }] }, 'Invalid API request'],
      [{ messages: [{ body: 1 }, { body: 2, ttl: 5 }] }, 'Invalid API request'],
      ['{"overflow": 9223372036854775808}', 'Invalid request body'],
      ['{"messages": [{"body": -9223372036854775809}]}', 'Invalid request body'],
    ];
    for (const [body, title] of bad) {
      const answer = await api.call('POST', '/v2/queues/q/messages', { body });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.title, title, JSON.stringify(body));
    }
    const empty = await api.call('POST', '/v2/queues/q/messages');
    assert.equal(empty.status, 400);
    assert.deepEqual(await snapshot(api.driver), [], 'no queue was created by a refused post');
    const big = await api.call('POST', '/v2/queues/q/messages', {
      body: '{"messages": [{"body": 9223372036854775807}]}',
    });
    assert.equal(big.status, 201, 'the largest 64-bit integer is fine');
  });

  it('with checksums on, messages carry "MD5:" and the hex MD5 of the body as Python serializes it', async () => {
    const checked = testApi({ service: { checksums: true } });
    try {
      const body = { text: 'héllo', list: [1, 2.5, null, true], nested: { a: 'b' } };
      const [id] = await post(checked, 'q', 1, { body });
      const message = await checked.call('GET', `/v2/queues/q/messages/${id}`);
      const { createHash } = await import('node:crypto');
      const expected = `MD5:${createHash('md5').update(pythonJson(body)).digest('hex')}`;
      assert.equal(message.json.checksum, expected);
      assert.equal(pythonJson(body), '{"text": "h\\u00e9llo", "list": [1, 2.5, null, true], "nested": {"a": "b"}}');
      const [nullId] = await post(checked, 'q', 1, { body: null });
      const nullMessage = await checked.call('GET', `/v2/queues/q/messages/${nullId}`);
      assert.equal(nullMessage.json.checksum, undefined, 'a null body has no checksum, as in Zaqar');
    } finally {
      await checked.close();
    }
    const [id] = await post(api, 'q', 1);
    assert.equal((await api.call('GET', `/v2/queues/q/messages/${id}`)).json.checksum, undefined, 'off by default');
  });
});
