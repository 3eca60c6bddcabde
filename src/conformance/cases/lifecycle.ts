import assert from 'node:assert/strict';
import { ClosedError, MessageNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';
import { allIds } from './messages.js';

export const lifecycleCases: ConformanceCase[] = [
  {
    group: 'driver',
    name: 'declares its capabilities and answers isAlive',
    async run({ driver }) {
      assert.ok(driver.capabilities.size > 0);
      for (const c of driver.capabilities) {
        assert.ok(['FIFO', 'CLAIMS', 'DURABILITY', 'AOD', 'HIGH_THROUGHPUT'].includes(c), `unknown capability ${c}`);
      }
      assert.equal(await driver.isAlive(), true);
    },
  },
  {
    group: 'driver',
    name: 'after close every call is refused with ClosedError and isAlive is false',
    async run({ driver, project }) {
      await driver.messages.post(project, 'q', [{ body: 1 }], 'c');
      await driver.close();
      await driver.close();
      assert.equal(await driver.isAlive(), false);
      await rejectsWith(driver.messages.post(project, 'q', [{ body: 2 }], 'c'), ClosedError);
      await rejectsWith(driver.queues.list(project), ClosedError);
      await rejectsWith(driver.claims.create(project, 'q'), ClosedError);
      await rejectsWith(driver.gc(), ClosedError);
    },
  },
  {
    group: 'durability',
    name: 'a reopened store has every queue, message, claim, delete and subscription it acknowledged',
    requires: ['DURABILITY'],
    needsReopen: true,
    async run(ctx) {
      const { clock, project } = ctx;
      let driver = ctx.driver;
      await driver.queues.create(project, 'q', { _max_claim_count: 5, note: 'kept' });
      const ids = (await driver.messages.post(
        project,
        'q',
        Array.from({ length: 6 }, (_, i) => ({ body: { i, bytes: new Uint8Array([i, 255]) }, ttl: 600 })),
        'producer',
      )) as string[];
      await driver.messages.delete(project, 'q', ids[0] as string);
      await driver.messages.bulkDelete(project, 'q', [ids[1] as string]);
      const claim = await driver.claims.create(project, 'q', { limit: 2, ttl: 120, grace: 60 });
      assert.ok(claim);
      const sub = await driver.subscriptions.create(project, 'q', 'http://hook.test/', { ttl: 900, options: { a: 1 } });
      await driver.subscriptions.confirm(project, 'q', sub.id, true);
      await driver.queues.create(project, 'empty');
      await driver.queues.create(project, 'gone');
      await driver.queues.delete(project, 'gone');

      driver = await (ctx.reopen as () => Promise<typeof driver>)();

      assert.deepEqual(await driver.queues.getMetadata(project, 'q'), { _max_claim_count: 5, note: 'kept' });
      assert.deepEqual(
        (await driver.queues.list(project)).queues.map((q) => q.name),
        ['empty', 'q'],
      );
      assert.deepEqual(await allIds(driver, project, 'q'), ids.slice(2));
      await rejectsWith(driver.messages.get(project, 'q', ids[0] as string), MessageNotFoundError);
      const body = (await driver.messages.get(project, 'q', ids[5] as string)).body as { i: number; bytes: Uint8Array };
      assert.equal(body.i, 5);
      assert.deepEqual([...body.bytes], [5, 255]);
      const kept = await driver.claims.get(project, 'q', claim.id);
      assert.deepEqual(
        kept.messages.map((m) => m.id),
        ids.slice(2, 4),
      );
      assert.equal(kept.expiresAt, claim.expiresAt, 'the claim keeps its expiry');
      assert.deepEqual(
        (await driver.claims.create(project, 'q', { limit: 20 }))?.messages.map((m) => m.id),
        ids.slice(4),
        'claimed messages stay claimed',
      );
      const s = await driver.subscriptions.get(project, 'q', sub.id);
      assert.equal(s.confirmed, true);
      assert.deepEqual(s.options, { a: 1 });
      assert.equal(s.expiresAt, s.createdAt + seconds(900));
      clock.advance(seconds(121));
      const released = await driver.claims.create(project, 'q', { limit: 20 });
      assert.deepEqual(
        released?.messages.map((m) => m.id),
        ids.slice(2, 4),
        'the claim still expires on time after a reopen',
      );
    },
  },
];
