import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { testApi } from './helpers.js';

describe('http: versions, home documents, ping, health, unknown routes', () => {
  const api = testApi();
  after(() => api.close());

  it('GET / lists the versions with 300 and needs no Client-ID or project', async () => {
    const answer = await api.call('GET', '/', { headers: { 'client-id': undefined, 'x-project-id': undefined } });
    assert.equal(answer.status, 300);
    assert.deepEqual(
      answer.json.versions.map((v: { id: string; status: string }) => [v.id, v.status]),
      [
        ['2', 'CURRENT'],
        ['1.1', 'DEPRECATED'],
      ],
    );
    assert.deepEqual(answer.json.versions[0].links, [{ href: '/v2/', rel: 'self' }]);
    assert.equal(answer.json.versions[0]['media-types'][0].type, 'application/vnd.openstack.messaging-v2+json');
  });

  it('GET /v2/ is a JSON-Home document, cached for a day; v1.1 has its own without v2-only resources', async () => {
    for (const url of ['/v2/', '/v2']) {
      const answer = await api.call('GET', url);
      assert.equal(answer.status, 200, url);
      assert.match(String(answer.headers['content-type']), /^application\/json-home/);
      assert.equal(answer.headers['cache-control'], 'max-age=86400');
      const resources = answer.json.resources;
      assert.equal(resources['rel/queues']['href-template'], '/v2/queues{?marker,limit,detailed}');
      assert.deepEqual(resources['rel/queue'].hints.allow, ['GET', 'PUT', 'DELETE', 'PATCH']);
      assert.ok(resources['rel/subscriptions_post'] && resources['rel/queue_share'] && resources['rel/topics']);
    }
    const old = await api.call('GET', '/v1.1/');
    assert.equal(old.status, 200);
    assert.equal(old.json.resources['rel/queues']['href-template'], '/v1.1/queues{?marker,limit,detailed}');
    assert.equal(old.json.resources['rel/subscriptions_post'], undefined);
    assert.equal(old.json.resources['rel/queue_share'], undefined);
  });

  it('the home document needs a Client-ID and a project like every versioned route', async () => {
    const answer = await api.call('GET', '/v2/', { headers: { 'client-id': undefined } });
    assert.equal(answer.status, 400);
    assert.equal(answer.json.title, 'Missing header value');
  });

  it('GET /v2/ping is 204 while the store answers, 503 when it does not; HEAD is always 204', async () => {
    assert.equal((await api.call('GET', '/v2/ping')).status, 204);
    assert.equal((await api.call('HEAD', '/v2/ping')).status, 204);
    assert.equal((await api.call('GET', '/v1.1/ping')).status, 204);
    const dead = createMemoryDriver();
    await dead.close();
    const down = testApi({ driver: dead });
    try {
      const failed = await down.call('GET', '/v2/ping');
      assert.equal(failed.status, 503);
      // Zaqar's own 503 has no body; here it has Zaqar's error shape, naming the store.
      assert.deepEqual(failed.json, {
        title: 'Service temporarily unavailable',
        description: 'The storage is not available: default (not answering).',
      });
      assert.equal((await down.call('HEAD', '/v2/ping')).status, 204);
    } finally {
      await down.close();
    }
  });

  it('GET /v2/health probes every storage operation on a scratch queue no client sees', async () => {
    const answer = await api.call('GET', '/v2/health');
    assert.equal(answer.status, 200);
    assert.equal(answer.json.storage_reachable, true);
    const ops = Object.keys(answer.json.operation_status).sort();
    assert.deepEqual(ops, [
      'bulk_delete_messages',
      'claim_messages',
      'create_queue',
      'delete_claim',
      'delete_messages',
      'delete_queue',
      'list_messages',
      'post_messages',
    ]);
    for (const op of ops) {
      const status = answer.json.operation_status[op];
      assert.equal(status.succeeded, true, op);
      assert.equal(typeof status.seconds, 'number');
    }
    const queues = await api.call('GET', '/v2/queues');
    assert.deepEqual(queues.json.queues, [], 'the probe leaves nothing in client projects');
  });

  it('unknown paths are 404 and known paths with other methods are 405 with Allow, both as JSON errors', async () => {
    const missing = await api.call('GET', '/v2/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.title, 'Not found');
    const wrong = await api.call('PUT', '/v2/queues/q/messages', { body: { messages: [] } });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'DELETE, GET, POST');
    assert.equal(wrong.json.title, 'Method not allowed');
    const noClaimsOnTopics = await api.call('POST', '/v2/topics/t/claims', { body: {} });
    assert.equal(noClaimsOnTopics.status, 404);
    const noTopicsInV11 = await api.call('GET', '/v1.1/topics');
    assert.equal(noTopicsInV11.status, 404);
  });
});
