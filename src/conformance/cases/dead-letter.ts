import assert from 'node:assert/strict';
import { MessageNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';
import { allIds } from './messages.js';

const group = 'dead letters';

export const deadLetterCases: ConformanceCase[] = [
  {
    group,
    name: 'a message claimed _max_claim_count times moves to the dead-letter queue instead of being claimed again',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'work', { _max_claim_count: 2, _dead_letter_queue: 'work-dlq' });
      const [poison, fine] = (await driver.messages.post(
        project,
        'work',
        [{ body: 'poison' }, { body: 'fine' }],
        'c',
      )) as [string, string];
      for (let attempt = 1; attempt <= 2; attempt++) {
        const claim = await driver.claims.create(project, 'work', { limit: 1, ttl: 60 });
        assert.deepEqual(
          claim?.messages.map((m) => [m.id, m.claimCount]),
          [[poison, attempt]],
        );
        clock.advance(seconds(60));
      }
      const third = await driver.claims.create(project, 'work', { limit: 1, ttl: 60 });
      assert.deepEqual(
        third?.messages.map((m) => m.id),
        [fine],
        'the poison message is not handed out a third time',
      );
      await rejectsWith(driver.messages.get(project, 'work', poison), MessageNotFoundError);
      assert.equal(await driver.queues.exists(project, 'work-dlq'), true);
      assert.deepEqual(await allIds(driver, project, 'work-dlq'), [poison]);
      const moved = await driver.messages.get(project, 'work-dlq', poison);
      assert.equal(moved.body, 'poison');
      assert.equal(moved.claimId, null);
      assert.equal((await driver.queues.stats(project, 'work')).total, 1);
    },
  },
  {
    group,
    name: '_dead_letter_queue_messages_ttl gives moved messages a new lifetime',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'work', {
        _max_claim_count: 1,
        _dead_letter_queue: 'dlq',
        _dead_letter_queue_messages_ttl: 7200,
      });
      const [id] = (await driver.messages.post(project, 'work', [{ body: 'x', ttl: 300 }], 'c')) as [string];
      await driver.claims.create(project, 'work', { ttl: 60 });
      clock.advance(seconds(60));
      assert.equal(await driver.claims.create(project, 'work'), null);
      const moved = await driver.messages.get(project, 'dlq', id);
      assert.equal(moved.ttl, 7200);
      assert.equal(moved.expiresAt, clock.now() + seconds(7200));
      clock.advance(seconds(3600));
      assert.equal((await driver.messages.get(project, 'dlq', id)).body, 'x', 'lives past its original ttl');
    },
  },
  {
    group,
    name: 'dead-lettering is off unless both _max_claim_count and _dead_letter_queue are set',
    async run({ driver, clock, project }) {
      await driver.queues.create(project, 'only-count', { _max_claim_count: 1 });
      await driver.queues.create(project, 'only-dlq', { _dead_letter_queue: 'dlq' });
      for (const queue of ['only-count', 'only-dlq']) {
        const [id] = await driver.messages.post(project, queue, [{ body: queue }], 'c');
        for (let i = 0; i < 3; i++) {
          const claim = await driver.claims.create(project, queue, { ttl: 60 });
          assert.deepEqual(
            claim?.messages.map((m) => m.id),
            [id],
            `${queue}: claim ${i + 1} still gets the message`,
          );
          clock.advance(seconds(60));
        }
      }
      assert.equal(await driver.queues.exists(project, 'dlq'), false);
    },
  },
];
