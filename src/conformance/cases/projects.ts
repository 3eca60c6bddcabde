import assert from 'node:assert/strict';
import { ClaimNotFoundError, MessageNotFoundError, QueueNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith } from '../harness.js';
import { allIds } from './messages.js';

export const projectCases: ConformanceCase[] = [
  {
    group: 'projects',
    name: 'the same queue name in two projects never mixes',
    async run({ driver, project }) {
      const a = project;
      const b = `${project}-other`;
      await driver.queues.create(a, 'shared', { owner: 'a' });
      await driver.queues.create(b, 'shared', { owner: 'b' });
      const [idA] = (await driver.messages.post(a, 'shared', [{ body: 'for a' }], 'c')) as [string];
      const [idB] = (await driver.messages.post(b, 'shared', [{ body: 'for b' }], 'c')) as [string];
      await driver.queues.create(b, 'only-b');
      assert.deepEqual(await driver.queues.getMetadata(a, 'shared'), { owner: 'a' });
      assert.deepEqual(await driver.queues.getMetadata(b, 'shared'), { owner: 'b' });
      assert.deepEqual(await allIds(driver, a, 'shared'), [idA]);
      assert.deepEqual(await allIds(driver, b, 'shared'), [idB]);
      await rejectsWith(driver.messages.get(a, 'shared', idB), MessageNotFoundError);
      assert.deepEqual(
        (await driver.queues.list(a)).queues.map((q) => q.name),
        ['shared'],
      );
      assert.deepEqual(
        (await driver.queues.list(b)).queues.map((q) => q.name),
        ['only-b', 'shared'],
      );
      const claimA = await driver.claims.create(a, 'shared');
      assert.deepEqual(
        claimA?.messages.map((m) => m.id),
        [idA],
      );
      await rejectsWith(driver.claims.get(b, 'shared', claimA?.id as string), ClaimNotFoundError);
      const claimB = await driver.claims.create(b, 'shared');
      assert.deepEqual(
        claimB?.messages.map((m) => m.id),
        [idB],
      );
      await driver.messages.delete(b, 'shared', idA); // a's message, asked of b: nothing happens
      await driver.messages.bulkDelete(b, 'shared', [idA]);
      assert.deepEqual(await allIds(driver, a, 'shared'), [idA]);
      const subA = await driver.subscriptions.create(a, 'shared', 'http://hook.test/');
      const subB = await driver.subscriptions.create(b, 'shared', 'http://hook.test/');
      assert.equal(subA.created && subB.created, true);
      assert.notEqual(subA.id, subB.id);
      await driver.queues.delete(a, 'shared');
      assert.equal(await driver.queues.exists(a, 'shared'), false);
      assert.equal(await driver.queues.exists(b, 'shared'), true);
      assert.deepEqual(await allIds(driver, b, 'shared'), [idB]);
      assert.equal((await driver.subscriptions.get(b, 'shared', subB.id)).id, subB.id);
      assert.equal((await driver.queues.stats(b, 'shared')).total, 1);
      await rejectsWith(driver.queues.stats(a, 'shared'), QueueNotFoundError);
    },
  },
  {
    group: 'projects',
    name: 'the global project (empty id) is a project like any other',
    async run({ driver, project }) {
      const queue = `g-${project}`;
      const [id] = (await driver.messages.post('', queue, [{ body: 'global' }], 'c')) as [string];
      assert.equal(await driver.queues.exists(project, queue), false);
      assert.equal((await driver.messages.get('', queue, id)).body, 'global');
      await driver.queues.delete('', queue);
      assert.equal(await driver.queues.exists('', queue), false);
    },
  },
];
