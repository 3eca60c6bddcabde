import assert from 'node:assert/strict';
import { QueueNotFoundError, SubscriptionExistsError, SubscriptionNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';

const group = 'subscriptions';

export const subscriptionCases: ConformanceCase[] = [
  {
    group,
    name: 'create, get, exists, get by subscriber, update, confirm and delete',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'q');
      const created = await driver.subscriptions.create(project, 'q', 'http://hooks.test/a', {
        ttl: 600,
        options: { post_headers: { 'X-Token': 't' } },
      });
      assert.equal(created.created, true);
      clock.advance(seconds(7));
      const got = await driver.subscriptions.get(project, 'q', created.id);
      assert.deepEqual(
        {
          id: got.id,
          source: got.source,
          subscriber: got.subscriber,
          ttl: got.ttl,
          age: got.age,
          options: got.options,
          confirmed: got.confirmed,
        },
        {
          id: created.id,
          source: 'q',
          subscriber: 'http://hooks.test/a',
          ttl: 600,
          age: 7,
          options: { post_headers: { 'X-Token': 't' } },
          confirmed: false,
        },
      );
      assert.equal(got.expiresAt, got.createdAt + seconds(600));
      assert.equal(await driver.subscriptions.exists(project, 'q', created.id), true);
      assert.equal(await driver.subscriptions.exists(project, 'q', 'unknown'), false);
      assert.equal((await driver.subscriptions.getBySubscriber(project, 'q', 'http://hooks.test/a'))?.id, created.id);
      assert.equal(await driver.subscriptions.getBySubscriber(project, 'q', 'http://hooks.test/b'), null);

      await driver.subscriptions.update(project, 'q', created.id, {
        subscriber: 'http://hooks.test/b',
        ttl: 1200,
        options: { post_data: '$zaqar_message$' },
      });
      const updated = await driver.subscriptions.get(project, 'q', created.id);
      assert.equal(updated.subscriber, 'http://hooks.test/b');
      assert.equal(updated.ttl, 1200);
      assert.equal(updated.expiresAt, clock.now() + seconds(1200), 'a new ttl counts from now');
      assert.deepEqual(updated.options, { post_data: '$zaqar_message$' });
      assert.equal(await driver.subscriptions.getBySubscriber(project, 'q', 'http://hooks.test/a'), null);

      await driver.subscriptions.confirm(project, 'q', created.id, true);
      assert.equal((await driver.subscriptions.get(project, 'q', created.id)).confirmed, true);
      await driver.subscriptions.confirm(project, 'q', created.id, false);
      assert.equal((await driver.subscriptions.get(project, 'q', created.id)).confirmed, false);

      await driver.subscriptions.delete(project, 'q', created.id);
      await driver.subscriptions.delete(project, 'q', created.id);
      await rejectsWith(driver.subscriptions.get(project, 'q', created.id), SubscriptionNotFoundError);
      await rejectsWith(driver.subscriptions.update(project, 'q', created.id, { ttl: 600 }), SubscriptionNotFoundError);
      await rejectsWith(driver.subscriptions.confirm(project, 'q', created.id, true), SubscriptionNotFoundError);
      await rejectsWith(driver.subscriptions.create(project, 'missing', 'http://x.test/'), QueueNotFoundError);
    },
  },
  {
    group,
    name: 'one subscription per (project, queue, subscriber)',
    async run({ driver, project }) {
      await driver.queues.create(project, 'q');
      await driver.queues.create(project, 'r');
      const first = await driver.subscriptions.create(project, 'q', 'mailto:a@example.test');
      const again = await driver.subscriptions.create(project, 'q', 'mailto:a@example.test', { ttl: 9999 });
      assert.deepEqual(again, { id: first.id, created: false });
      assert.equal((await driver.subscriptions.get(project, 'q', first.id)).ttl, driver.limits.defaultSubscriptionTtl);
      const otherQueue = await driver.subscriptions.create(project, 'r', 'mailto:a@example.test');
      assert.equal(otherQueue.created, true);
      assert.notEqual(otherQueue.id, first.id);
      const otherProject = `${project}-2`;
      await driver.queues.create(otherProject, 'q');
      assert.equal((await driver.subscriptions.create(otherProject, 'q', 'mailto:a@example.test')).created, true);
      const second = await driver.subscriptions.create(project, 'q', 'mailto:b@example.test');
      await rejectsWith(
        driver.subscriptions.update(project, 'q', second.id, { subscriber: 'mailto:a@example.test' }),
        SubscriptionExistsError,
        (e) => assert.equal(e.subscriptionId, first.id),
      );
      assert.equal((await driver.subscriptions.get(project, 'q', second.id)).subscriber, 'mailto:b@example.test');
      const list = await driver.subscriptions.list(project, 'q');
      assert.deepEqual(list.subscriptions.map((s) => s.subscriber).sort(), [
        'mailto:a@example.test',
        'mailto:b@example.test',
      ]);
    },
  },
  {
    group,
    name: 'list pages through subscriptions in creation order',
    async run({ driver, project }) {
      await driver.queues.create(project, 'q');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await driver.subscriptions.create(project, 'q', `http://h${i}.test/`)).id);
      const seen: string[] = [];
      let marker: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = await driver.subscriptions.list(project, 'q', { limit: 3, ...(marker ? { marker } : {}) });
        if (result.subscriptions.length === 0) break;
        assert.ok(result.subscriptions.length <= 3);
        seen.push(...result.subscriptions.map((s) => s.id));
        marker = result.marker ?? undefined;
      }
      assert.deepEqual(seen, ids);
    },
  },
];
