import assert from 'node:assert/strict';
import { IdempotencyKeyReusedError, InvalidArgumentError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';
import { allIds } from './messages.js';

const KEY = 'order-7f3a';

export const idempotencyCases: ConformanceCase[] = [
  {
    group: 'idempotency',
    name: 'a repeat with the same key answers the first post ids and stores nothing',
    async run({ driver, project }) {
      const batch = [{ body: { n: 1 } }, { body: 'two', ttl: 120, delay: 5 }];
      let replays = 0;
      const onReplay = () => {
        replays++;
      };
      const first = await driver.messages.post(project, 'q', batch, 'c', { idempotencyKey: KEY, onReplay });
      assert.equal(first.length, 2);
      assert.equal(replays, 0, 'the first post stored its messages: no replay');
      const again = await driver.messages.post(project, 'q', batch, 'other-client', { idempotencyKey: KEY, onReplay });
      assert.deepEqual(again, first);
      assert.equal(replays, 1, 'the repeat says it stored nothing');
      assert.deepEqual(await allIds(driver, project, 'q', { includeDelayed: true }), first);
      assert.equal((await driver.queues.stats(project, 'q')).total, 2);
      // Still the first post's ids once its messages are gone: the key remembers the post, not the messages.
      await driver.messages.bulkDelete(project, 'q', first);
      assert.deepEqual(await driver.messages.post(project, 'q', batch, 'c', { idempotencyKey: KEY }), first);
      assert.equal((await driver.queues.stats(project, 'q')).total, 0);
      // Without a key the same messages are a new post.
      const plain = await driver.messages.post(project, 'q', batch, 'c');
      assert.equal(plain.filter((id) => first.includes(id)).length, 0);
    },
  },
  {
    group: 'idempotency',
    name: 'a body with its keys in another order is the same post',
    async run({ driver, project }) {
      const first = await driver.messages.post(project, 'q', [{ body: { a: 1, b: [1, { x: 1, y: 2 }] } }], 'c', {
        idempotencyKey: KEY,
      });
      const again = await driver.messages.post(project, 'q', [{ body: { b: [1, { y: 2, x: 1 }], a: 1 } }], 'c', {
        idempotencyKey: KEY,
      });
      assert.deepEqual(again, first);
      assert.equal((await driver.queues.stats(project, 'q')).total, 1);
    },
  },
  {
    group: 'idempotency',
    name: 'the key with other messages is IdempotencyKeyReusedError and stores nothing',
    async run({ driver, project }) {
      const first = await driver.messages.post(project, 'q', [{ body: 'a', ttl: 300 }], 'c', { idempotencyKey: KEY });
      const others: [string, { body: unknown; ttl?: number; delay?: number }[]][] = [
        ['another body', [{ body: 'b', ttl: 300 }]],
        ['another ttl', [{ body: 'a', ttl: 301 }]],
        ['another delay', [{ body: 'a', ttl: 300, delay: 1 }]],
        [
          'another count',
          [
            { body: 'a', ttl: 300 },
            { body: 'a', ttl: 300 },
          ],
        ],
      ];
      for (const [what, messages] of others) {
        await rejectsWith(
          driver.messages.post(project, 'q', messages, 'c', { idempotencyKey: KEY }),
          IdempotencyKeyReusedError,
          (error) => {
            assert.equal(error.code, 'PH_IDEMPOTENCY_KEY_REUSED', what);
            assert.equal(error.key, KEY, what);
          },
        );
      }
      assert.deepEqual(await allIds(driver, project, 'q', { includeDelayed: true }), first);
      // The refusals changed nothing: the first post is still what the key answers.
      assert.deepEqual(
        await driver.messages.post(project, 'q', [{ body: 'a', ttl: 300 }], 'c', { idempotencyKey: KEY }),
        first,
      );
    },
  },
  {
    group: 'idempotency',
    name: 'two posts with one key racing each other store one post and answer its ids',
    async run({ driver, project }) {
      const batch = [{ body: 'x' }, { body: 'y' }, { body: 'z' }];
      // On a queue that does not exist yet, and on one that does.
      for (const queue of ['fresh', 'fresh']) {
        const key = `race-${(await driver.queues.exists(project, queue)) ? 'existing' : 'new'}`;
        let replays = 0;
        const onReplay = () => {
          replays++;
        };
        const answers = await Promise.all(
          Array.from({ length: 4 }, () =>
            driver.messages.post(project, queue, batch, 'c', { idempotencyKey: key, onReplay }),
          ),
        );
        for (const ids of answers) assert.deepEqual(ids, answers[0]);
        assert.equal(replays, 3, 'one post stored, three answered from its key');
      }
      assert.equal((await driver.queues.stats(project, 'fresh')).total, 6);
    },
  },
  {
    group: 'idempotency',
    name: 'the key is remembered for the queue window from the first post, then a post is new',
    async run({ driver, clock, project }) {
      const first = await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: KEY });
      clock.advance(seconds(3599));
      // A repeat does not lengthen the window.
      assert.deepEqual(await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: KEY }), first);
      clock.advance(seconds(1));
      const later = await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: KEY });
      assert.notDeepEqual(later, first);
      assert.deepEqual(await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: KEY }), later);

      await driver.queues.create(project, 'short', { _idempotency_window: 60 });
      const short = await driver.messages.post(project, 'short', [{ body: 1 }], 'c', { idempotencyKey: KEY });
      clock.advance(seconds(59));
      assert.deepEqual(
        await driver.messages.post(project, 'short', [{ body: 1 }], 'c', { idempotencyKey: KEY }),
        short,
      );
      clock.advance(seconds(1));
      // Past the window the key is free for other messages too, before and after gc.
      const other = await driver.messages.post(project, 'short', [{ body: 2 }], 'c', { idempotencyKey: KEY });
      assert.notDeepEqual(other, short);
      clock.advance(seconds(60));
      await driver.gc();
      const third = await driver.messages.post(project, 'short', [{ body: 3 }], 'c', { idempotencyKey: KEY });
      assert.equal((await driver.queues.stats(project, 'short')).total, 3);
      assert.deepEqual(
        await driver.messages.post(project, 'short', [{ body: 3 }], 'c', { idempotencyKey: KEY }),
        third,
      );
    },
  },
  {
    group: 'idempotency',
    name: 'keys are per queue and per project',
    async run({ driver, project }) {
      const other = `${project}-b`;
      const a = await driver.messages.post(project, 'qa', [{ body: 1 }], 'c', { idempotencyKey: KEY });
      const b = await driver.messages.post(project, 'qb', [{ body: 2 }], 'c', { idempotencyKey: KEY });
      const c = await driver.messages.post(other, 'qa', [{ body: 3 }], 'c', { idempotencyKey: KEY });
      assert.equal(new Set([...a, ...b, ...c]).size, 3);
      assert.deepEqual(await allIds(driver, project, 'qa'), a);
      assert.deepEqual(await allIds(driver, project, 'qb'), b);
      assert.deepEqual(await allIds(driver, other, 'qa'), c);
    },
  },
  {
    group: 'idempotency',
    name: 'deleting the queue forgets its keys',
    async run({ driver, project }) {
      const first = await driver.messages.post(project, 'q', [{ body: 'a' }], 'c', { idempotencyKey: KEY });
      await driver.queues.delete(project, 'q');
      const anew = await driver.messages.post(project, 'q', [{ body: 'b' }], 'c', { idempotencyKey: KEY });
      assert.notDeepEqual(anew, first);
      assert.deepEqual(await allIds(driver, project, 'q'), anew);
    },
  },
  {
    group: 'idempotency',
    name: 'keys that are empty, longer than 255 or not printable ASCII are refused and store nothing',
    async run({ driver, project }) {
      for (const key of ['', 'k'.repeat(256), 'clé', 'tab\there', 7 as unknown as string]) {
        await rejectsWith(
          driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: key }),
          InvalidArgumentError,
          (error) => assert.equal(error.field, 'idempotencyKey'),
        );
      }
      assert.equal(await driver.queues.exists(project, 'q'), false);
      const longest = 'k'.repeat(255);
      const ids = await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: longest });
      assert.deepEqual(await driver.messages.post(project, 'q', [{ body: 1 }], 'c', { idempotencyKey: longest }), ids);
    },
  },
  {
    group: 'idempotency',
    name: 'a key outlives a reopen of the store',
    needsReopen: true,
    async run({ driver, project, reopen }) {
      const first = await driver.messages.post(project, 'q', [{ body: 'kept' }], 'c', { idempotencyKey: KEY });
      const reopened = await (reopen as () => Promise<typeof driver>)();
      assert.deepEqual(
        await reopened.messages.post(project, 'q', [{ body: 'kept' }], 'c', { idempotencyKey: KEY }),
        first,
      );
      await rejectsWith(
        reopened.messages.post(project, 'q', [{ body: 'other' }], 'c', { idempotencyKey: KEY }),
        IdempotencyKeyReusedError,
      );
      assert.deepEqual(await allIds(reopened, project, 'q'), first);
    },
  },
];
