import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, MessageNotFoundError, QuotaExceededError } from '../../src/core/index.js';
import { QueueService, RequestRefusedError } from '../../src/service/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const P = 'redrive-project';

async function setup(quotas?: { max_messages?: number }) {
  const clock = new FakeClock();
  const driver = createMemoryDriver({ clock });
  const service = new QueueService({
    driver,
    clock,
    ...(quotas ? { quotas: { refreshSeconds: 3600, defaults: quotas } } : {}),
  });
  await service.queues.create(P, 'work', { _dead_letter_queue: 'work-dlq', _max_claim_count: 1 });
  return { clock, service };
}

/** Dead-letters `n` messages of `work` the way the store does: claimed once, claim expired, claimed again. */
async function deadLetter(service: QueueService, clock: FakeClock, bodies: unknown[], ttl = 3600) {
  await service.queues.post(P, 'work', CLIENT, { messages: bodies.map((body) => ({ body, ttl })) });
  await service.queues.claim(P, 'work', { ttl: 60, grace: 60 }, 20);
  clock.advance(61_000);
  // The next claim finds them over _max_claim_count and moves them to the dead-letter queue.
  await service.queues.claim(P, 'work', { ttl: 60, grace: 60 }, 20);
  const dead = await list(service, 'work-dlq');
  assert.equal(dead.length, bodies.length, 'the messages were dead-lettered');
  return dead;
}

async function list(service: QueueService, queue: string) {
  const page = await service.queues.listMessages(P, queue, CLIENT, {
    echo: true,
    includeClaimed: true,
    includeDelayed: true,
    limit: 20,
  });
  return page.messages;
}

describe('redrive', () => {
  it('moves every dead letter back, keeping body and remaining ttl', async () => {
    const { clock, service } = await setup();
    const dead = await deadLetter(service, clock, [{ n: 1 }, { n: 2 }, 'three']);
    const deadExpiry = new Map(dead.map((m) => [JSON.stringify(m.body), m.expiresAt]));
    clock.advance(100_000);
    const result = await service.redrive(P, 'work', {});
    assert.equal(result.deadLetterQueue, 'work-dlq');
    assert.equal(result.moved.length, 3);
    assert.equal(result.more, false);
    assert.deepEqual(
      result.moved.map((m) => m.from),
      dead.map((m) => m.id),
    );
    assert.equal((await list(service, 'work-dlq')).length, 0, 'nothing is left in the dead-letter queue');
    const back = await list(service, 'work');
    const redriven = back.filter((m) => result.moved.some((x) => x.to === m.id));
    assert.deepEqual(
      redriven.map((m) => m.body),
      [{ n: 1 }, { n: 2 }, 'three'],
    );
    for (const m of redriven) {
      // Whole seconds: the new expiry is the old one rounded up to the next second at most.
      const was = deadExpiry.get(JSON.stringify(m.body)) as number;
      assert.ok(m.expiresAt >= was && m.expiresAt - was < 1000, `expires at ${m.expiresAt}, was ${was}`);
      assert.equal(m.claimId, null);
    }
  });

  it('moves only the chosen messages', async () => {
    const { clock, service } = await setup();
    const dead = await deadLetter(service, clock, ['a', 'b', 'c']);
    const chosen = [dead[0]?.id as string, dead[2]?.id as string];
    const result = await service.redrive(P, 'work', { ids: chosen });
    assert.deepEqual(
      result.moved.map((m) => m.from),
      chosen,
    );
    assert.deepEqual(
      (await list(service, 'work-dlq')).map((m) => m.body),
      ['b'],
    );
  });

  it('refuses a queue without a dead-letter queue and moves nothing', async () => {
    const { clock, service } = await setup();
    await deadLetter(service, clock, ['a']);
    await service.queues.create(P, 'plain', {});
    await assert.rejects(service.redrive(P, 'plain', {}), (error: unknown) => {
      assert.ok(error instanceof RequestRefusedError, String(error));
      assert.match((error as Error).message, /no dead-letter queue/);
      return true;
    });
    assert.equal((await list(service, 'work-dlq')).length, 1);
  });

  it('refuses an unknown id and moves nothing', async () => {
    const { clock, service } = await setup();
    const dead = await deadLetter(service, clock, ['a', 'b']);
    const missing = '5c0e5a8d40b1e4b0a1f5c0d3';
    await assert.rejects(service.redrive(P, 'work', { ids: [dead[0]?.id, missing] }), MessageNotFoundError);
    assert.equal((await list(service, 'work-dlq')).length, 2);
  });

  it('refuses a redrive over the project quota and moves nothing', async () => {
    // Three messages held (all dead letters): a quota of 4 has room for one more, not for three.
    const { clock, service } = await setup({ max_messages: 4 });
    await deadLetter(service, clock, ['a', 'b', 'c']);
    const before = (await list(service, 'work')).length;
    await assert.rejects(service.redrive(P, 'work', {}), (error: unknown) => {
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.equal(error.quota, 'max_messages');
      return true;
    });
    assert.equal((await list(service, 'work-dlq')).length, 3, 'every dead letter is still there');
    assert.equal((await list(service, 'work')).length, before, 'nothing was posted');
  });

  it('refuses a dead letter larger than the queue takes in a post, moving nothing', async () => {
    const { clock, service } = await setup();
    await deadLetter(service, clock, ['x'.repeat(2000), 'small']);
    await service.queues.patch(P, 'work', [{ op: 'add', path: '/metadata/_max_messages_post_size', value: 1024 }]);
    await assert.rejects(service.redrive(P, 'work', {}), /more than queue work accepts/);
    assert.equal((await list(service, 'work-dlq')).length, 2);
  });

  it('leaves claimed dead letters alone and refuses to move a named one', async () => {
    const { clock, service } = await setup();
    const dead = await deadLetter(service, clock, ['a', 'b']);
    const claim = await service.queues.claim(P, 'work-dlq', { ttl: 300, grace: 60 }, 1);
    const held = claim?.messages[0]?.id as string;
    await assert.rejects(service.redrive(P, 'work', { ids: [held] }), /is claimed/);
    const result = await service.redrive(P, 'work', {});
    assert.deepEqual(
      result.moved.map((m) => m.from),
      dead.map((m) => m.id).filter((id) => id !== held),
    );
  });

  it('refuses bad requests', async () => {
    const { service } = await setup();
    await assert.rejects(service.redrive(P, 'work', { ids: [] }), RequestRefusedError);
    await assert.rejects(service.redrive(P, 'work', { ids: 'x' }), RequestRefusedError);
    await assert.rejects(service.redrive(P, 'work', { all: true }), RequestRefusedError);
    await assert.rejects(service.redrive(P, 'nope', {}), /not exist|not found/i);
  });

  it('answers an empty dead-letter queue with nothing moved', async () => {
    const { service } = await setup();
    const result = await service.redrive(P, 'work', undefined);
    assert.deepEqual(result.moved, []);
  });
});
