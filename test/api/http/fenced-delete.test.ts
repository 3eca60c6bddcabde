import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { post, type TestApi, testApi } from './helpers.js';

/** `DELETE …/messages/{id}?claim_id=X&fenced=true`: a Posthorn extension for fenced workers. */
describe('http: fenced message delete', () => {
  let api: TestApi;
  beforeEach(() => {
    api = testApi();
  });
  afterEach(() => api.close());

  const claim = async (queue: string) => {
    const answer = await api.call('POST', `/v2/queues/${queue}/claims?limit=1`, { body: { ttl: 60, grace: 60 } });
    assert.equal(answer.status, 201);
    return String(answer.headers.location).split('/').pop() as string;
  };

  it('deletes under the live claim (204); once gone it is 404 fenced, and still 204 for Zaqar clients', async () => {
    const [id] = await post(api, 'q', 1);
    const claimId = await claim('q');
    const path = `/v2/queues/q/messages/${id}?claim_id=${claimId}`;
    assert.equal((await api.call('DELETE', `${path}&fenced=true`)).status, 204);
    assert.equal((await api.call('DELETE', `${path}&fenced=true`)).status, 404);
    assert.equal((await api.call('DELETE', path)).status, 204, 'without fenced, Zaqar semantics stay');
  });

  it('refuses the first claim once its lease expired and another claim took the message, before and after that one deletes', async () => {
    const [id] = await post(api, 'q', 1);
    const first = await claim('q');
    api.clock.advance(61_000);
    const second = await claim('q');
    const as = (claimId: string) => `/v2/queues/q/messages/${id}?claim_id=${claimId}&fenced=true`;
    assert.equal((await api.call('DELETE', as(first))).status, 403);
    assert.equal((await api.call('GET', `/v2/queues/q/messages/${id}`)).status, 200, 'the refusal changed nothing');
    assert.equal((await api.call('DELETE', as(second))).status, 204);
    assert.equal((await api.call('DELETE', as(first))).status, 404);
  });

  it('a fenced value other than true or false is 400', async () => {
    const [id] = await post(api, 'q', 1);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages/${id}?fenced=maybe`)).status, 400);
  });
});
