/**
 * With pooling on, a queue's dead-letter queue is created in its pool before the queue itself; a
 * refused create or patch must not leave that dead-letter queue behind (found by the route
 * fuzzer, test/api/fuzz: `PUT` with `_dead_letter_queue` and metadata nested too deep left it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHttpApp } from '../../../src/api/http/index.js';
import { PoolAdministration } from '../../../src/service/index.js';
import { poolSetup } from '../../pool/support.js';

const HEADERS = { 'client-id': '3381af92-2b9e-11e3-b191-71861300734c', 'x-project-id': 'dlq-project' };
const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

async function pooledApp() {
  const setup = poolSetup();
  await setup.admin.createPool('p1', { uri: 'memory://', weight: 100 });
  const app = buildHttpApp({ service: setup.service, pooling: new PoolAdministration(setup.admin, setup.mover) });
  const call = async (method: string, url: string, payload?: string, type = 'application/json') => {
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers: payload === undefined ? HEADERS : { ...HEADERS, 'content-type': type },
      ...(payload !== undefined ? { payload } : {}),
    });
    return { status: r.statusCode, text: r.body };
  };
  return { setup, app, call };
}

for (const prefix of ['/v2/queues', '/v1.1/queues']) {
  test(`pooling: a refused create leaves no dead-letter queue (${prefix})`, async (t) => {
    const { app, call, setup } = await pooledApp();
    t.after(() => app.close());
    const refused = await call('PUT', `${prefix}/main`, `{"_dead_letter_queue":"dead","x":${deep(150)}}`);
    assert.equal(refused.status, 400, refused.text);
    const listed = await call('GET', prefix);
    assert.doesNotMatch(listed.text, /"dead"/, 'the dead-letter queue of a refused create is listed');
    assert.equal(await setup.catalog.route('dlq-project', 'dead'), null);
  });
}

test('pooling: a refused metadata patch leaves no dead-letter queue', async (t) => {
  const { app, call, setup } = await pooledApp();
  t.after(() => app.close());
  assert.equal((await call('PUT', '/v2/queues/main', '{}')).status, 201);
  const patch = `[{"op":"add","path":"/metadata/_dead_letter_queue","value":"dead"},{"op":"add","path":"/metadata/x","value":${deep(150)}}]`;
  const refused = await call('PATCH', '/v2/queues/main', patch, 'application/openstack-messaging-v2.0-json-patch');
  assert.equal(refused.status, 400, refused.text);
  const listed = await call('GET', '/v2/queues');
  assert.doesNotMatch(listed.text, /"dead"/, 'the dead-letter queue of a refused patch is listed');
  assert.equal(await setup.catalog.route('dlq-project', 'dead'), null);
});
