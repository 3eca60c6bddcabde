import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, IdempotencyKeyReusedError, makeLimits } from '../../src/core/index.js';
import { QueueService, storeLimits } from '../../src/service/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const batch = (n: number, body: unknown = 'x') => ({ messages: Array.from({ length: n }, () => ({ body, ttl: 300 })) });

function setup(maxMessages: number) {
  const clock = new FakeClock();
  const driver = createMemoryDriver({ clock, limits: storeLimits(makeLimits()) });
  const service = new QueueService({
    driver,
    clock,
    quotas: { refreshSeconds: 3600, defaults: { max_messages: maxMessages } },
  });
  return { driver, service };
}

describe('service: idempotent posts', () => {
  it('a repeat answered from its key takes no quota room: the room it reserved is given back', async () => {
    const { service } = setup(10);
    const key = { idempotencyKey: 'k-1' };
    const first = await service.queues.post('p', 'q', CLIENT, batch(3), key);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await service.queues.post('p', 'q', CLIENT, batch(3), key), first);
    }
    // 3 stored: room for exactly 7 more, which a repeat counted as written would have taken.
    await service.queues.post('p', 'q', CLIENT, batch(7));
    assert.equal((await service.queues.stats('p', 'q')).total, 10);
    assert.deepEqual((await service.quotas.report('p')).usage.messages, 10);
    await service.close();
  });

  it('the key with other messages is refused and takes no room either', async () => {
    const { service } = setup(4);
    const key = { idempotencyKey: 'k-1' };
    await service.queues.post('p', 'q', CLIENT, batch(2), key);
    await assert.rejects(service.queues.post('p', 'q', CLIENT, batch(2, 'y'), key), IdempotencyKeyReusedError);
    await service.queues.post('p', 'q', CLIENT, batch(2));
    assert.equal((await service.queues.stats('p', 'q')).total, 4);
    await service.close();
  });
});
