import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeLimits } from '../../../src/core/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  checkProjectId,
  issueToken,
  TokenAuthenticator,
} from '../../../src/service/index.js';
import { testApi } from './helpers.js';

/** A queue `work` whose dead-letter queue `work-dlq` holds the given bodies (posted there directly). */
async function withDeadLetters(api: ReturnType<typeof testApi>, bodies: unknown[]) {
  assert.equal((await api.call('PUT', '/v2/queues/work', { body: { _dead_letter_queue: 'work-dlq' } })).status, 201);
  const posted = await api.call('POST', '/v2/queues/work-dlq/messages', {
    body: { messages: bodies.map((body) => ({ body, ttl: 600 })) },
  });
  assert.equal(posted.status, 201, posted.text);
  return (posted.json.resources as string[]).map((r) => r.split('/').pop() as string);
}

describe('POST /v2/queues/{name}/redrive', () => {
  it('moves every dead letter back into its queue', async () => {
    const api = testApi();
    const ids = await withDeadLetters(api, [{ a: 1 }, 'two']);
    const answer = await api.call('POST', '/v2/queues/work/redrive', { body: {} });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.queue, 'work');
    assert.equal(answer.json.dead_letter_queue, 'work-dlq');
    assert.equal(answer.json.count, 2);
    assert.equal(answer.json.more, false);
    assert.deepEqual(
      answer.json.moved.map((m: { from: string }) => m.from),
      ids,
    );
    const back = await api.call('GET', '/v2/queues/work/messages?echo=true');
    assert.deepEqual(
      back.json.messages.map((m: { body: unknown }) => m.body),
      [{ a: 1 }, 'two'],
    );
    const left = await api.call('GET', '/v2/queues/work-dlq/messages?echo=true');
    assert.equal(left.status, 200);
    assert.equal((left.json?.messages ?? []).length, 0);
    await api.close();
  });

  it('moves the chosen ids, with an empty body meaning all', async () => {
    const api = testApi();
    const ids = await withDeadLetters(api, ['a', 'b', 'c']);
    const chosen = await api.call('POST', '/v2/queues/work/redrive', { body: { ids: [ids[1]] } });
    assert.equal(chosen.status, 200, chosen.text);
    assert.equal(chosen.json.count, 1);
    assert.equal(chosen.json.moved[0].from, ids[1]);
    const rest = await api.call('POST', '/v2/queues/work/redrive');
    assert.equal(rest.status, 200, rest.text);
    assert.equal(rest.json.count, 2);
    await api.close();
  });

  it('refuses clearly: no dead-letter queue, an unknown id, a bad body, quota', async () => {
    const api = testApi({ service: { quotas: { refreshSeconds: 3600, defaults: { max_messages: 2 } } } });
    const ids = await withDeadLetters(api, ['a', 'b']);
    assert.equal((await api.call('PUT', '/v2/queues/plain', { body: {} })).status, 201);
    const none = await api.call('POST', '/v2/queues/plain/redrive', { body: {} });
    assert.equal(none.status, 400, none.text);
    assert.equal(none.json.title, 'Invalid API request');
    assert.match(none.json.description, /no dead-letter queue/);
    const missing = await api.call('POST', '/v2/queues/work/redrive', { body: { ids: ['5c0e5a8d40b1e4b0a1f5c0d3'] } });
    assert.equal(missing.status, 404, missing.text);
    const bad = await api.call('POST', '/v2/queues/work/redrive', { body: { ids: 'all' } });
    assert.equal(bad.status, 400, bad.text);
    const gone = await api.call('POST', '/v2/queues/nowhere/redrive', { body: {} });
    assert.equal(gone.status, 404, gone.text);
    // The project holds 2 messages, its quota: moving them would hold 4 for a moment.
    const over = await api.call('POST', '/v2/queues/work/redrive', { body: {} });
    assert.equal(over.status, 403, over.text);
    assert.equal(over.json.title, 'Quota exceeded');
    const left = await api.call('GET', '/v2/queues/work-dlq/messages?echo=true');
    assert.deepEqual(
      left.json.messages.map((m: { id: string }) => m.id),
      ids,
      'nothing moved',
    );
    await api.close();
  });

  it('is a member action: a reader is refused', async () => {
    const secret = 'a-test-secret-of-more-than-32-characters';
    const checkProject = (value: string | undefined) => checkProjectId(value, makeLimits());
    const access = new AccessControl(
      new TokenAuthenticator({ secret, keys: [] }),
      new AccessPolicy(),
      new AdminToken(null),
      checkProject,
    );
    const api = testApi({ app: { access } });
    const token = (role: string) => issueToken(secret, { project: 'test-project', roles: [role], ttlSeconds: 3600 });
    const reader = await token('reader');
    const member = await token('member');
    const headers = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
    assert.equal(
      (await api.call('PUT', '/v2/queues/work', { body: { _dead_letter_queue: 'dlq' }, ...headers(member) })).status,
      201,
    );
    const refused = await api.call('POST', '/v2/queues/work/redrive', { body: {}, ...headers(reader) });
    assert.equal(refused.status, 403, refused.text);
    const allowed = await api.call('POST', '/v2/queues/work/redrive', { body: {}, ...headers(member) });
    assert.equal(allowed.status, 200, allowed.text);
    await api.close();
  });
});
