import assert from 'node:assert/strict';
import { QueueNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';

export const statsCases: ConformanceCase[] = [
  {
    group: 'stats',
    name: 'stats count claimed, free, delayed and total, and name the oldest and newest',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'q');
      assert.deepEqual(await driver.queues.stats(project, 'q'), { claimed: 0, free: 0, delayed: 0, total: 0 });
      const ids = (await driver.messages.post(
        project,
        'q',
        Array.from({ length: 5 }, (_, i) => ({ body: i })),
        'c',
      )) as string[];
      clock.advance(seconds(10));
      const [last] = (await driver.messages.post(project, 'q', [{ body: 'late', delay: 100 }], 'c')) as [string];
      await driver.claims.create(project, 'q', { limit: 2 });
      clock.advance(seconds(5));
      const stats = await driver.queues.stats(project, 'q');
      assert.equal(stats.total, 6);
      assert.equal(stats.claimed, 2);
      assert.equal(stats.free, 4);
      assert.equal(stats.delayed, 1);
      assert.equal(stats.oldest?.id, ids[0]);
      assert.equal(stats.oldest?.age, 15);
      assert.equal(stats.newest?.id, last);
      assert.equal(stats.newest?.age, 5);
      assert.equal(stats.newest?.createdAt, clock.now() - seconds(5));
      await rejectsWith(driver.queues.stats(project, 'missing'), QueueNotFoundError);
    },
  },
];
