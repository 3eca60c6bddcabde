/**
 * With pooling on, a refused request must leave no catalog entry: a queue that appears in the
 * plain listing while GET answers 404 is a ghost (issue 12, defect 6).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHttpApp } from '../../../src/api/http/index.js';
import { PoolAdministration } from '../../../src/service/index.js';
import { poolSetup } from '../../pool/support.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const PROJECT = 'gp-project';

async function pooledApp() {
  const setup = poolSetup();
  await setup.admin.createPool('p1', { uri: 'memory://', weight: 100 });
  const app = buildHttpApp({ service: setup.service, pooling: new PoolAdministration(setup.admin, setup.mover) });
  const call = async (method: string, url: string, payload?: string) => {
    const headers: Record<string, string> = { 'client-id': CLIENT, 'x-project-id': PROJECT };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    return { status: r.statusCode, text: r.body };
  };
  return { setup, app, call };
}

const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

for (const prefix of ['/v2/queues', '/v1.1/queues', '/v2/topics']) {
  test(`pooling: a refused post leaves no ghost (${prefix})`, async (t) => {
    const { app, call, setup } = await pooledApp();
    t.after(() => app.close());
    const refused = await call('POST', `${prefix}/gp/messages`, '{"messages":[{"body":-1e400,"ttl":300}]}');
    assert.equal(refused.status, 400, refused.text);
    const listed = await call('GET', prefix);
    assert.equal(listed.status, 200, listed.text);
    assert.doesNotMatch(listed.text, /"gp"/, 'the refused queue is listed');
    assert.equal(await setup.catalog.route(PROJECT, 'gp'), null);
  });

  test(`pooling: a refused queue create leaves no ghost (${prefix})`, async (t) => {
    const { app, call, setup } = await pooledApp();
    t.after(() => app.close());
    const refused = await call('PUT', `${prefix}/gq`, deep(200));
    assert.equal(refused.status, 400, refused.text);
    const listed = await call('GET', prefix);
    assert.doesNotMatch(listed.text, /"gq"/, 'the refused queue is listed');
    assert.equal(await setup.catalog.route(PROJECT, 'gq'), null);
  });
}

test('pooling: a flavor whose pools all have weight 0 answers 409 with the reason, no Retry-After, no ghost', async (t) => {
  const { app, setup } = await pooledApp();
  t.after(() => app.close());
  await setup.admin.createPool('idle', { uri: 'memory://', weight: 0 });
  await setup.admin.createFlavor('idle', { pool_list: ['idle'] });
  const answer = await app.inject({
    method: 'PUT',
    url: '/v2/queues/fq',
    headers: { 'client-id': CLIENT, 'x-project-id': PROJECT, 'content-type': 'application/json' },
    payload: '{"_flavor":"idle"}',
  });
  assert.equal(answer.statusCode, 409, answer.body);
  assert.equal(answer.headers['retry-after'], undefined);
  assert.match(JSON.parse(answer.body).description, /weight 0/);
  assert.equal(await setup.catalog.route(PROJECT, 'fq'), null);
});
