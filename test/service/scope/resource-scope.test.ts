import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FakeClock,
  makeLimits,
  QueueNotFoundError,
  ResourceNotFoundError,
  SubscriptionExistsError,
} from '../../../src/core/index.js';
import {
  type DriverResolver,
  QueueService,
  quotaProject,
  RequestRefusedError,
  singleDriverResolver,
  storeLimits,
  storeProject,
} from '../../../src/service/index.js';
import type { DataDriver } from '../../../src/store/contract/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';

function setup() {
  const clock = new FakeClock();
  const driver = createMemoryDriver({ clock, limits: storeLimits(makeLimits()) });
  const asked: string[] = [];
  const inner = singleDriverResolver(driver);
  // A resolver that records every (project, queue) the service asks for, as a pool catalog would see them.
  const resolver: DriverResolver = {
    ...inner,
    forQueue(project, queue) {
      asked.push(`${project}/${queue}`);
      return inner.forQueue(project, queue);
    },
    async listQueues(project, options) {
      asked.push(`${project}/*`);
      return inner.listQueues(project, options);
    },
  };
  const service = new QueueService({ resolver, clock });
  return { clock, driver, service, asked };
}

describe('service: queues and topics over the storage contract', () => {
  it('reaches storage only through the resolver, with topics in their own project namespace', async () => {
    const { service, asked, driver } = setup();
    await service.queues.create('p', 'q', { a: 1 });
    await service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1 }] });
    await service.topics.post('p', 'q', CLIENT, { messages: [{ body: 2 }] });
    await service.queues.list('p');
    await service.topics.list('p');
    assert.deepEqual(asked, [
      'p/q',
      // The quotas the admin API set, read once (quota-store.ts); no quota applies, so no usage is read.
      `${quotaProject()}/*`,
      'p/q',
      'p/q',
      `${storeProject('topic', 'p')}/q`,
      `${storeProject('topic', 'p')}/q`,
      'p/*',
      `${storeProject('topic', 'p')}/*`,
    ]);
    assert.notEqual(storeProject('topic', 'p'), 'p');
    const queueMessages = await driver.messages.list('p', 'q', { echo: true });
    assert.deepEqual(
      queueMessages.messages.map((m) => m.body),
      [1],
    );
  });

  it('posting creates the queue, but a refused post writes nothing', async () => {
    const { service, driver } = setup();
    await assert.rejects(
      service.queues.post('p', 'fresh', CLIENT, { messages: [{ body: 1 }, { body: 2, ttl: 10 }] }),
      RequestRefusedError,
    );
    assert.equal(await driver.queues.exists('p', 'fresh'), false);
    const ids = await service.queues.post('p', 'fresh', CLIENT, { messages: [{ body: 1 }] });
    assert.equal(ids.length, 1);
    assert.equal(await driver.queues.exists('p', 'fresh'), true);
  });

  it('reading a missing queue gives empty answers; its metadata and messages are not found', async () => {
    const { service } = setup();
    assert.deepEqual(await service.queues.stats('p', 'none'), { claimed: 0, free: 0, delayed: 0, total: 0 });
    assert.deepEqual((await service.queues.listMessages('p', 'none', CLIENT)).messages, []);
    assert.deepEqual((await service.queues.listSubscriptions('p', 'none')).subscriptions, []);
    assert.deepEqual(await service.queues.getMessages('p', 'none', ['a']), []);
    assert.deepEqual(await service.queues.pop('p', 'none', 1), []);
    assert.equal(await service.queues.claim('p', 'none', undefined), null);
    await service.queues.releaseClaim('p', 'none', 'c');
    await service.queues.deleteMessages('p', 'none', ['a']);
    await assert.rejects(service.queues.get('p', 'none'), QueueNotFoundError);
    await assert.rejects(
      service.topics.get('p', 'none'),
      (e: unknown) => e instanceof ResourceNotFoundError && /topic/.test(e.message),
    );
  });

  it('subscribing creates the queue; again while unconfirmed gives the id, once confirmed a conflict', async () => {
    const { service, driver } = setup();
    const first = await service.queues.subscribe('p', 'q', { subscriber: 'http://a.example' });
    assert.equal(first.created, true);
    assert.equal(await driver.queues.exists('p', 'q'), true);
    const again = await service.queues.subscribe('p', 'q', { subscriber: 'http://a.example' });
    assert.deepEqual(again, { id: first.id, created: false });
    await service.queues.confirmSubscription('p', 'q', first.id, { confirmed: true });
    await assert.rejects(
      service.queues.subscribe('p', 'q', { subscriber: 'http://a.example' }),
      SubscriptionExistsError,
    );
    await assert.rejects(service.queues.subscribe('p', 'r', { subscriber: 'nope' }), RequestRefusedError);
    assert.equal(await driver.queues.exists('p', 'r'), false, 'a refused subscription creates no queue');
  });

  it('purge deletes claimed and delayed messages too, and subscriptions', async () => {
    const { service, driver } = setup();
    await service.queues.post('p', 'q', CLIENT, {
      messages: Array.from({ length: 45 }, (_, i) => ({ body: i, delay: i % 3 === 0 ? 60 : 0 })),
    });
    await service.queues.claim('p', 'q', {}, 20);
    for (let i = 0; i < 25; i++) await service.queues.subscribe('p', 'q', { subscriber: `http://${i}.example` });
    await service.queues.purge('p', 'q', undefined);
    assert.equal((await driver.queues.stats('p', 'q')).total, 0);
    assert.equal((await driver.subscriptions.list('p', 'q', { limit: 20 })).subscriptions.length, 0);
  });

  it('delayed messages: listed unless the queue has a default delay; claimed only once visible', async () => {
    const { service, clock } = setup();
    await service.queues.post('p', 'plain', CLIENT, { messages: [{ body: 'later', delay: 30 }] });
    assert.equal((await service.queues.listMessages('p', 'plain', CLIENT, { echo: true })).messages.length, 1);
    assert.equal(await service.queues.claim('p', 'plain', {}), null);
    await service.queues.create('p', 'delayed', { _default_message_delay: 30 });
    await service.queues.post('p', 'delayed', CLIENT, { messages: [{ body: 'later' }] });
    assert.equal((await service.queues.listMessages('p', 'delayed', CLIENT, { echo: true })).messages.length, 0);
    const withDelayed = await service.queues.listMessages('p', 'delayed', CLIENT, { echo: true, includeDelayed: true });
    assert.equal(withDelayed.messages.length, 1);
    clock.advance(30_000);
    assert.equal((await service.queues.claim('p', 'delayed', {}))?.messages.length, 1);
    assert.equal((await service.queues.claim('p', 'plain', {}))?.messages.length, 1);
  });

  it('checks names and counts before it asks storage anything', async () => {
    const { service, asked } = setup();
    await assert.rejects(
      service.queues.create('p', 'bad name', {}),
      (e: unknown) => e instanceof RequestRefusedError && e.title === 'Invalid queue identification',
    );
    await assert.rejects(
      service.topics.create('p', 'x'.repeat(65), {}),
      (e: unknown) => e instanceof RequestRefusedError && e.title === 'Invalid topic identification',
    );
    await assert.rejects(service.queues.list('p', { limit: 21 }), RequestRefusedError);
    await assert.rejects(service.queues.pop('p', 'q', 0), RequestRefusedError);
    await assert.rejects(service.queues.getMessages('p', 'q', Array(21).fill('a')), RequestRefusedError);
    await assert.rejects(service.queues.claim('p', 'q', { ttl: 10 }), RequestRefusedError);
    await assert.rejects(service.queues.patch('p', 'q', [{ op: 'move' }]), RequestRefusedError);
    assert.deepEqual(asked, []);
  });

  it("post terms follow this process's metadata changes at once and another server's within a second", async () => {
    const { service, driver, clock } = setup();
    await service.queues.create('p', 'q', { _default_message_ttl: 100 });
    assert.equal((await service.queues.postTerms('p', 'q')).defaultTtl, 100);
    await service.queues.patch('p', 'q', [{ op: 'replace', path: '/metadata/_default_message_ttl', value: 200 }]);
    assert.equal((await service.queues.postTerms('p', 'q')).defaultTtl, 200, 'a change made here applies at once');
    await driver.queues.setMetadata('p', 'q', { _default_message_ttl: 300 });
    assert.equal((await service.queues.postTerms('p', 'q')).defaultTtl, 200, 'reused for a moment');
    clock.advance(1000);
    assert.equal((await service.queues.postTerms('p', 'q')).defaultTtl, 300, 'read again after a second');
    await service.queues.delete('p', 'q');
    await service.queues.create('p', 'q', {});
    assert.equal((await service.queues.postTerms('p', 'q')).defaultTtl, 3600);
  });

  it('takes one driver or a resolver, not both and not neither', () => {
    const driver = createMemoryDriver();
    assert.throws(() => new QueueService({}), /resolver or a driver/);
    assert.throws(() => new QueueService({ driver, resolver: singleDriverResolver(driver) }), /not both/);
  });

  it('a store that fails passes its error up for the transport to answer 503', async () => {
    const broken: DataDriver = createMemoryDriver();
    await broken.close();
    const service = new QueueService({ driver: broken });
    await assert.rejects(service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1 }] }), { code: 'PH_CLOSED' });
    assert.equal(await service.isAlive(), false);
  });
});
