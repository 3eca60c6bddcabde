import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, makeLimits, StorageFullError } from '../../../src/core/index.js';
import { storeLimits } from '../../../src/service/index.js';
import { createDataDriver } from '../../../src/store/contract/index.js';
import { MemoryEngine } from '../../../src/store/memory/index.js';
import { testApi } from './helpers.js';

/**
 * Issue 12, defect 5, anywhere (no tmpfs needed): a store whose writes fail for want of space.
 * A post's 503 says the disk is full (with Retry-After); /readyz and /v2/health say "full"
 * while it lasts; reads and deletes go on; the first write that succeeds clears it.
 */
describe('http: a full disk is reported as full', () => {
  it('503 names the full disk, readiness and health say full, a later successful write clears it', async () => {
    const clock = new FakeClock();
    const limits = makeLimits();
    const engine = new MemoryEngine(clock);
    let full = false;
    const postMessages = engine.postMessages.bind(engine);
    engine.postMessages = async (...args) => {
      if (full) throw new StorageFullError('a write to the log failed: the disk is full (ENOSPC)');
      return postMessages(...args);
    };
    const driver = createDataDriver(engine, storeLimits(limits));
    const api = testApi({ driver });
    try {
      const message = { messages: [{ body: 1, ttl: 300 }] };
      assert.equal((await api.call('POST', '/v2/queues/q/messages', { body: message })).status, 201);
      assert.equal((await api.call('GET', '/readyz')).json.stores.default, 'up');

      full = true;
      const refused = await api.call('POST', '/v2/queues/q/messages', { body: message });
      assert.equal(refused.status, 503);
      assert.deepEqual(Object.keys(refused.json).sort(), ['description', 'title']);
      assert.equal(refused.json.title, 'Service temporarily unavailable');
      assert.match(refused.json.description, /^Messages could not be enqueued\. The disk holding the data is full/);
      assert.ok(refused.headers['retry-after']);

      const ready = await api.call('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.json.stores, { default: 'full' });
      assert.match(ready.json.description, /disk holding the data of these stores is full: default/);
      const health = await api.call('GET', '/v2/health');
      assert.equal(health.status, 200);
      assert.equal(health.json.storage_full, true);
      // Reads go on while the disk is full.
      const listed = await api.call('GET', '/v2/queues/q/messages?echo=true');
      assert.equal(listed.status, 200);
      assert.equal(listed.json.messages.length, 1);

      full = false;
      assert.equal((await api.call('POST', '/v2/queues/q/messages', { body: message })).status, 201);
      const again = await api.call('GET', '/readyz');
      assert.equal(again.status, 200);
      assert.deepEqual(again.json.stores, { default: 'up' });
      assert.equal((await api.call('GET', '/v2/health')).json.storage_full, undefined);
    } finally {
      await api.close();
    }
  });
});
