import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageQueue, type MessageQueueOptions } from '../../src/compat/index.js';
import { FakeClock, InvalidArgumentError } from '../../src/core/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

function setup(options: { maxCount?: number; maxAgeSeconds?: number } = {}) {
  const clock = new FakeClock();
  const driver = createMemoryDriver({ clock });
  return { clock, driver, mq: new MessageQueue({ driver, ...options }) };
}

describe('compat: unidist MessageQueue', () => {
  it('counts, adds, and reads the oldest and newest with and without removal', async () => {
    const { mq } = setup();
    assert.equal(await mq.queueExists('jobs'), false);
    assert.equal(await mq.getMessageCount('jobs'), 0);
    assert.equal(await mq.getOldest('jobs'), undefined);
    assert.equal(await mq.getNewest('jobs'), undefined);
    assert.deepEqual(await mq.getAllMessages('jobs'), []);
    for (const m of ['a', { b: 2 }, ['c'], 'd']) await mq.addMessage('jobs', m);
    assert.equal(await mq.queueExists('jobs'), true);
    assert.equal(await mq.getMessageCount('jobs'), 4);
    assert.deepEqual(await mq.getAllMessages('jobs'), ['a', { b: 2 }, ['c'], 'd']);
    assert.equal(await mq.getOldest('jobs', false), 'a');
    assert.equal(await mq.getNewest('jobs', false), 'd');
    assert.equal(await mq.getMessageCount('jobs'), 4, 'peeking removes nothing');
    assert.equal(await mq.getOldest('jobs'), 'a');
    assert.equal(await mq.getNewest('jobs'), 'd');
    assert.deepEqual(await mq.getAllMessages('jobs'), [{ b: 2 }, ['c']]);
    assert.deepEqual(await mq.getOldest('jobs', true), { b: 2 });
    assert.deepEqual(await mq.getNewest('jobs', true), ['c']);
    assert.equal(await mq.getOldest('jobs'), undefined);
    assert.equal(await mq.getMessageCount('jobs'), 0);
    assert.equal(await mq.queueExists('jobs'), true, 'an emptied queue still exists');
  });

  it('queues are separate', async () => {
    const { mq } = setup();
    await mq.addMessage('one', 1);
    await mq.addMessage('two', 2);
    assert.deepEqual(await mq.getAllMessages('one'), [1]);
    assert.deepEqual(await mq.getAllMessages('two'), [2]);
  });

  it('concurrent takers of the newest each get a different message', async () => {
    const { mq } = setup();
    for (let i = 0; i < 10; i++) await mq.addMessage('q', i);
    const taken = await Promise.all(Array.from({ length: 12 }, () => mq.getNewest('q')));
    assert.deepEqual(
      taken.filter((x) => x !== undefined).sort((a, b) => (a as number) - (b as number)),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(taken.filter((x) => x === undefined).length, 2);
  });

  it('a queue bounded by count drops its oldest messages', async () => {
    const { mq } = setup({ maxCount: 3 });
    for (let i = 1; i <= 5; i++) await mq.addMessage('q', i);
    assert.equal(await mq.getMessageCount('q'), 3);
    assert.deepEqual(await mq.getAllMessages('q'), [3, 4, 5]);
    for (let i = 6; i <= 50; i++) await mq.addMessage('q', i);
    assert.deepEqual(await mq.getAllMessages('q'), [48, 49, 50]);
  });

  it('a queue bounded by age drops messages older than the bound', async () => {
    const { mq, clock } = setup({ maxAgeSeconds: 120 });
    await mq.addMessage('q', 'old');
    clock.advance(60_000);
    await mq.addMessage('q', 'young');
    clock.advance(60_000);
    assert.deepEqual(await mq.getAllMessages('q'), ['young']);
    assert.equal(await mq.getOldest('q'), 'young');
  });

  it('without an age bound, messages live for the driver’s longest ttl', async () => {
    const { mq, clock, driver } = setup();
    await mq.addMessage('q', 'kept');
    clock.advance((driver.limits.maxMessageTtl - 1) * 1000);
    assert.deepEqual(await mq.getAllMessages('q'), ['kept']);
  });

  it('bad arguments are typed errors naming the field, and change nothing', async () => {
    const { driver, mq } = setup();
    assert.throws(
      () => new MessageQueue({ driver, maxCount: 0 }),
      (e) => e instanceof InvalidArgumentError && e.field === 'maxCount',
    );
    assert.throws(
      () => new MessageQueue({ driver, maxAgeSeconds: 5 }),
      (e) => e instanceof InvalidArgumentError && e.field === 'maxAgeSeconds',
    );
    assert.throws(
      () => new MessageQueue({} as unknown as MessageQueueOptions),
      (e) => e instanceof InvalidArgumentError && e.field === 'driver',
    );
    await assert.rejects(
      mq.addMessage('bad name!', 1),
      (e) => e instanceof InvalidArgumentError && e.field === 'queue',
    );
    await assert.rejects(
      mq.addMessage('q', () => 1),
      (e) => e instanceof InvalidArgumentError && e.field === 'messages[0].body',
    );
    assert.equal(await mq.queueExists('q'), false);
  });
});

describe('compat: unidist MessageQueue on the disk store', () => {
  it('the queues survive a restart (the seed’s archive and snapshot wish)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createDiskDriver } = await import('../../src/store/disk/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-mq-'));
    try {
      let driver = await createDiskDriver({ dir, gcIntervalMs: 0 });
      let mq = new MessageQueue({ driver, maxCount: 3 });
      for (const m of ['a', 'b', 'c', 'd']) await mq.addMessage('events', m);
      assert.equal(await mq.getOldest('events'), 'b');
      await driver.close();
      driver = await createDiskDriver({ dir, gcIntervalMs: 0 });
      mq = new MessageQueue({ driver, maxCount: 3 });
      assert.equal(await mq.queueExists('events'), true);
      assert.deepEqual(await mq.getAllMessages('events'), ['c', 'd']);
      await driver.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
