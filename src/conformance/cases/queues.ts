import assert from 'node:assert/strict';
import { QueueNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith } from '../harness.js';

const group = 'queues';

export const queueCases: ConformanceCase[] = [
  {
    group,
    name: 'create answers true once, then false without touching the metadata',
    async run({ driver, project }) {
      assert.equal(await driver.queues.exists(project, 'orders'), false);
      assert.equal(await driver.queues.create(project, 'orders', { color: 'red', n: 1 }), true);
      assert.equal(await driver.queues.exists(project, 'orders'), true);
      assert.equal(await driver.queues.create(project, 'orders', { color: 'blue' }), false);
      assert.deepEqual(await driver.queues.getMetadata(project, 'orders'), { color: 'red', n: 1 });
    },
  },
  {
    group,
    name: 'setMetadata replaces the whole document; missing queues are QueueNotFoundError',
    async run({ driver, project }) {
      await driver.queues.create(project, 'q');
      await driver.queues.setMetadata(project, 'q', { a: 1, nested: { b: [1, 2, 'x'] } });
      assert.deepEqual(await driver.queues.getMetadata(project, 'q'), { a: 1, nested: { b: [1, 2, 'x'] } });
      await driver.queues.setMetadata(project, 'q', { c: true });
      assert.deepEqual(await driver.queues.getMetadata(project, 'q'), { c: true });
      await rejectsWith(driver.queues.getMetadata(project, 'nope'), QueueNotFoundError, (e) => {
        assert.equal(e.queue, 'nope');
        assert.equal(e.project, project);
      });
      await rejectsWith(driver.queues.setMetadata(project, 'nope', {}), QueueNotFoundError);
      assert.equal(await driver.queues.exists(project, 'nope'), false);
    },
  },
  {
    group,
    name: 'metadata is copied in and out: changing an object afterwards changes nothing stored',
    async run({ driver, project }) {
      const metadata = { list: [1], inner: { x: 1 } };
      await driver.queues.create(project, 'q', metadata);
      metadata.list.push(2);
      metadata.inner.x = 2;
      const read = await driver.queues.getMetadata(project, 'q');
      assert.deepEqual(read, { list: [1], inner: { x: 1 } });
      (read.list as number[]).push(3);
      assert.deepEqual(await driver.queues.getMetadata(project, 'q'), { list: [1], inner: { x: 1 } });
    },
  },
  {
    group,
    name: 'delete removes the queue with its messages and subscriptions, and is idempotent',
    async run({ driver, project }) {
      await driver.queues.create(project, 'q', { keep: false });
      await driver.messages.post(project, 'q', [{ body: 1 }, { body: 2 }], 'c');
      await driver.subscriptions.create(project, 'q', 'http://example.test/hook');
      await driver.queues.delete(project, 'q');
      assert.equal(await driver.queues.exists(project, 'q'), false);
      await driver.queues.delete(project, 'q');
      await driver.queues.create(project, 'q');
      assert.deepEqual(await driver.queues.getMetadata(project, 'q'), {});
      assert.equal((await driver.messages.list(project, 'q', { echo: true })).messages.length, 0);
      assert.equal((await driver.subscriptions.list(project, 'q')).subscriptions.length, 0);
      assert.equal((await driver.queues.stats(project, 'q')).total, 0);
    },
  },
  {
    group,
    name: 'list pages through queues in name order with marker and limit',
    async run({ driver, project }) {
      const names = ['delta', 'alpha', 'echo', 'charlie', 'bravo', 'foxtrot', 'golf'];
      for (const n of names) await driver.queues.create(project, n, { n });
      const seen: string[] = [];
      let marker: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await driver.queues.list(project, { limit: 3, ...(marker ? { marker } : {}) });
        assert.ok(result.queues.length <= 3);
        for (const q of result.queues) assert.equal(q.metadata, undefined);
        seen.push(...result.queues.map((q) => q.name));
        if (result.queues.length === 0) break;
        marker = result.marker ?? undefined;
      }
      assert.deepEqual(seen, [...names].sort());
      const firstTwo = await driver.queues.list(project, { limit: 2 });
      assert.deepEqual(
        firstTwo.queues.map((q) => q.name),
        ['alpha', 'bravo'],
      );
      const defaultPage = await driver.queues.list(project);
      assert.equal(defaultPage.queues.length, names.length);
    },
  },
  {
    group,
    name: 'list shows metadata when detailed, filters by name and metadata, and counts',
    async run({ driver, project }) {
      await driver.queues.create(project, 'mail-in', { kind: 'mail', prio: 1 });
      await driver.queues.create(project, 'mail-out', { kind: 'mail', prio: 2 });
      await driver.queues.create(project, 'jobs', { kind: 'job', prio: 1 });
      const detailed = await driver.queues.list(project, { detailed: true });
      assert.deepEqual(detailed.queues, [
        { name: 'jobs', metadata: { kind: 'job', prio: 1 } },
        { name: 'mail-in', metadata: { kind: 'mail', prio: 1 } },
        { name: 'mail-out', metadata: { kind: 'mail', prio: 2 } },
      ]);
      const byName = await driver.queues.list(project, { name: 'mail' });
      assert.deepEqual(
        byName.queues.map((q) => q.name),
        ['mail-in', 'mail-out'],
      );
      const byMeta = await driver.queues.list(project, { filter: { prio: 1 } });
      assert.deepEqual(
        byMeta.queues.map((q) => q.name),
        ['jobs', 'mail-in'],
      );
      const both = await driver.queues.list(project, { name: 'mail', filter: { prio: 1 }, withCount: true });
      assert.deepEqual(
        both.queues.map((q) => q.name),
        ['mail-in'],
      );
      assert.equal(both.count, 1);
      const counted = await driver.queues.list(project, { limit: 1, withCount: true });
      assert.equal(counted.queues.length, 1);
      assert.equal(counted.count, 3);
    },
  },
];
