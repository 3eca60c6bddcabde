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

/** `DELETE …/messages?ids=…&claim_ids=…`: Zaqar's bulk delete fenced by the claims named. */
describe('http: fenced bulk delete', () => {
  let api: TestApi;
  afterEach(() => api.close());

  const claim = async (queue: string, limit: number) => {
    const answer = await api.call('POST', `/v2/queues/${queue}/claims?limit=${limit}`, {
      body: { ttl: 60, grace: 60 },
    });
    assert.equal(answer.status, 201);
    return String(answer.headers.location).split('/').pop() as string;
  };
  const exists = async (id: string) => (await api.call('GET', `/v2/queues/q/messages/${id}`)).status === 200;

  it('deletes only what the named claims hold: 204 for Zaqar clients, the ids deleted and not with fenced=true', async () => {
    api = testApi();
    const [m1, m2, m3, m4] = (await post(api, 'q', 4)) as [string, string, string, string];
    const lost = await claim('q', 1);
    api.clock.advance(61_000);
    const taken = await claim('q', 1);
    const held = await claim('q', 2);
    const ids = [m1, m2, m3, m4].join(',');
    const fenced = await api.call(
      'DELETE',
      `/v2/queues/q/messages?ids=${ids},${m2}&claim_ids=${lost},${held}&fenced=true`,
    );
    assert.equal(fenced.status, 200);
    assert.deepEqual(fenced.json, { deleted: [m2, m3], not_deleted: [m1, m4] });
    assert.deepEqual(
      await Promise.all([m1, m2, m3, m4].map(exists)),
      [true, false, false, true],
      'the message another consumer took and the free one stay',
    );

    const plain = await api.call('DELETE', `/v2/queues/q/messages?ids=${m1},${m4}&claim_ids=${lost}`);
    assert.equal(plain.status, 204, "Zaqar's answer, whatever was deleted");
    assert.equal(plain.text, '');
    assert.ok(await exists(m1), 'the expired claim deletes nothing');
    const under = await api.call('DELETE', `/v2/queues/q/messages?ids=${m1}&claim_ids=${taken}&fenced=true`);
    assert.deepEqual(under.json, { deleted: [m1], not_deleted: [] });

    const unfenced = await api.call('DELETE', `/v2/queues/q/messages?ids=${m4},${m1}&fenced=true`);
    assert.deepEqual(unfenced.json, { deleted: [m4], not_deleted: [m1] }, 'without claim_ids, what existed');
    const missing = await api.call('DELETE', `/v2/queues/nothere/messages?ids=${m4}&claim_ids=${held}&fenced=true`);
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.json, { deleted: [], not_deleted: [m4] });
  });

  it('refuses claim_ids with pop, more than 20 claim ids, and a fenced value other than a boolean', async () => {
    api = testApi();
    const [id] = await post(api, 'q', 1);
    const withPop = await api.call('DELETE', `/v2/queues/q/messages?pop=1&claim_ids=${id}`);
    assert.equal(withPop.status, 400);
    assert.ok(await exists(id as string), 'nothing was popped');
    const claimIds = Array.from({ length: 21 }, (_, i) => `c${i}`).join(',');
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages?ids=${id}&claim_ids=${claimIds}`)).status, 400);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages?ids=${id}&fenced=maybe`)).status, 400);
    assert.ok(await exists(id as string));
  });

  it("with message_delete_with_claim_id, ids without claim_ids are refused with Zaqar's text", async () => {
    api = testApi({ service: { messageDeleteWithClaimId: true } });
    const [id] = await post(api, 'q', 1);
    const refused = await api.call('DELETE', `/v2/queues/q/messages?ids=${id}`);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.title, 'Invalid API request');
    assert.match(refused.json.description, /both "ids" and "claim_ids".*message_delete_with_claim_id is True/);
    assert.ok(await exists(id as string));
    const claimId = await claim('q', 1);
    assert.equal((await api.call('DELETE', `/v2/queues/q/messages?ids=${id}&claim_ids=${claimId}`)).status, 204);
    assert.equal(await exists(id as string), false);
    assert.equal((await api.call('DELETE', '/v2/queues/q/messages?pop=1')).status, 200, 'pop needs no claim');
  });
});
