import assert from 'node:assert/strict';
import { MessageNotFoundError, SubscriptionNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';
import { allIds } from './messages.js';

export const lifetimeCases: ConformanceCase[] = [
  {
    group: 'ttl',
    name: 'a message past its ttl is never returned, claimed, popped or counted',
    async run({ driver, clock, project }) {
      const [short] = (await driver.messages.post(project, 'q', [{ body: 'short', ttl: 60 }], 'c')) as [string];
      const [long] = (await driver.messages.post(project, 'q', [{ body: 'long', ttl: 120 }], 'c')) as [string];
      clock.advance(seconds(59));
      assert.deepEqual(await allIds(driver, project, 'q'), [short, long]);
      clock.advance(seconds(1));
      assert.deepEqual(await allIds(driver, project, 'q'), [long]);
      await rejectsWith(driver.messages.get(project, 'q', short), MessageNotFoundError);
      assert.deepEqual(await driver.messages.bulkGet(project, 'q', [short]), []);
      assert.equal((await driver.messages.first(project, 'q'))?.id, long);
      const stats = await driver.queues.stats(project, 'q');
      assert.equal(stats.total, 1);
      assert.equal(stats.oldest?.id, long);
      const claim = await driver.claims.create(project, 'q', { ttl: 60, grace: 60 });
      assert.deepEqual(
        claim?.messages.map((m) => m.id),
        [long],
      );
      await driver.claims.delete(project, 'q', claim?.id as string);
      clock.advance(seconds(60));
      assert.deepEqual(await driver.messages.pop(project, 'q', 5), []);
      assert.equal(await driver.claims.create(project, 'q'), null);
      assert.equal(await driver.messages.first(project, 'q'), null);
      assert.equal((await driver.queues.stats(project, 'q')).total, 0);
    },
  },
  {
    group: 'ttl',
    name: 'gc reclaims expired messages, claims and subscriptions and keeps the live ones',
    async run({ driver, clock, project }) {
      await driver.messages.post(
        project,
        'q',
        [
          { body: 1, ttl: 60 },
          { body: 2, ttl: 60 },
        ],
        'c',
      );
      const [keep] = await driver.messages.post(project, 'q', [{ body: 3, ttl: 600 }], 'c');
      const claim = await driver.claims.create(project, 'q', { limit: 1, ttl: 60, grace: 60 });
      assert.ok(claim);
      await driver.subscriptions.create(project, 'q', 'http://short.test/', { ttl: 60 });
      const lasting = await driver.subscriptions.create(project, 'q', 'http://long.test/', { ttl: 6000 });
      clock.advance(seconds(200));
      const report = await driver.gc();
      assert.ok(report.messages >= 2, `expected 2 expired messages reclaimed, report ${JSON.stringify(report)}`);
      assert.ok(report.claims >= 1, `expected the expired claim reclaimed, report ${JSON.stringify(report)}`);
      assert.ok(report.subscriptions >= 1, `expected 1 expired subscription, report ${JSON.stringify(report)}`);
      assert.deepEqual(await allIds(driver, project, 'q'), [keep]);
      assert.equal((await driver.subscriptions.get(project, 'q', lasting.id)).subscriber, 'http://long.test/');
      const again = await driver.gc();
      assert.deepEqual(again, { messages: 0, claims: 0, subscriptions: 0 }, 'nothing is reclaimed twice');
    },
  },
  {
    group: 'ttl',
    name: 'an expired subscription is gone, and its subscriber may subscribe anew',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'q');
      const first = await driver.subscriptions.create(project, 'q', 'mailto:ops@example.test', { ttl: 60 });
      clock.advance(seconds(60));
      await rejectsWith(driver.subscriptions.get(project, 'q', first.id), SubscriptionNotFoundError);
      assert.equal(await driver.subscriptions.exists(project, 'q', first.id), false);
      assert.equal(await driver.subscriptions.getBySubscriber(project, 'q', 'mailto:ops@example.test'), null);
      assert.deepEqual((await driver.subscriptions.list(project, 'q')).subscriptions, []);
      const second = await driver.subscriptions.create(project, 'q', 'mailto:ops@example.test', { ttl: 60 });
      assert.equal(second.created, true);
      assert.notEqual(second.id, first.id);
    },
  },
  {
    group: 'delays',
    name: 'a delayed message is hidden from listings until due, unless includeDelayed',
    async run({ driver, clock, project }) {
      const [soon] = await driver.messages.post(project, 'q', [{ body: 'soon', delay: 30 }], 'c');
      const [now] = await driver.messages.post(project, 'q', [{ body: 'now', delay: 0 }], 'c');
      const list = async (includeDelayed?: boolean) =>
        (
          await driver.messages.list(project, 'q', {
            echo: true,
            ...(includeDelayed === undefined ? {} : { includeDelayed }),
          })
        ).messages.map((m) => m.id);
      assert.deepEqual(await list(), [now]);
      assert.deepEqual(await list(true), [soon, now]);
      const delayed = await driver.messages.get(project, 'q', soon as string);
      assert.equal(delayed.visibleAt, delayed.createdAt + seconds(30), 'get by id still finds it');
      const stats = await driver.queues.stats(project, 'q');
      assert.equal(stats.delayed, 1);
      assert.equal(stats.free, 2);
      clock.advance(seconds(29));
      assert.deepEqual(await list(), [now]);
      clock.advance(seconds(1));
      assert.deepEqual(await list(), [soon, now]);
      assert.equal((await driver.queues.stats(project, 'q')).delayed, 0);
    },
  },
];
