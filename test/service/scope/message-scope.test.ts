import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, LimitExceededError, makeLimits } from '../../../src/core/index.js';
import {
  MessagesTooLargeError,
  QueueService,
  RequestRefusedError,
  singleDriverResolver,
  storeLimits,
} from '../../../src/service/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';

function setup(storeMinTtl?: number) {
  const clock = new FakeClock();
  const limits = makeLimits();
  const driverLimits = storeLimits(limits);
  const driver = createMemoryDriver({
    clock,
    limits: storeMinTtl === undefined ? driverLimits : { ...driverLimits, minMessageTtl: storeMinTtl },
  });
  const service = new QueueService({ resolver: singleDriverResolver(driver), clock, limits });
  return { driver, service };
}

describe('service: the messages of a scope', () => {
  it("refuses a post over the server's size limit in Zaqar's words, and one within it not", async () => {
    const { service } = setup();
    await service.queues.checkPostSize('p', 'q', 262144);
    const refusal = await service.queues.checkPostSize('p', 'q', 262145).then(
      () => assert.fail('a post over the limit was let through'),
      (error: unknown) => error,
    );
    assert.ok(refusal instanceof MessagesTooLargeError);
    assert.ok(refusal instanceof LimitExceededError);
    assert.equal(refusal.code, 'PH_LIMIT_EXCEEDED');
    assert.equal(refusal.message, 'Message collection size is too large. Max size 262144');
  });

  it("refuses a post over the queue's own _max_messages_post_size, naming both limits", async () => {
    const { service } = setup();
    await service.queues.create('p', 'small', { _max_messages_post_size: 1023 });
    await service.queues.checkPostSize('p', 'small', 1023);
    await assert.rejects(service.queues.checkPostSize('p', 'small', 1024), {
      code: 'PH_LIMIT_EXCEEDED',
      message:
        'Message collection size is too large. The max size for current queue is 1023. It is calculated by max size = min(max_messages_post_size_config: 262144, max_messages_post_size_queue: 1023).',
    });
  });

  it("holds a post to the service's ttl range even when its store takes shorter ones", async () => {
    // Pool stores are opened with a minimum ttl of 1 second, for the mover; clients still get 60.
    const { service, driver } = setup(1);
    await assert.rejects(service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1, ttl: 10 }] }), {
      name: RequestRefusedError.name,
      description: 'The TTL of a message must be at least 60 and at most 1209600 seconds.',
    });
    await assert.rejects(service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1, delay: 901 }] }), {
      description: 'The delay of a message must be at least 0 and at most 900 seconds.',
    });
    assert.equal(await driver.queues.exists('p', 'q'), false);
    assert.equal((await service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1, ttl: 60 }] })).length, 1);
  });
});
