import assert from 'node:assert/strict';
import { MessageNotClaimedByError, MessageNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';

const group = 'fenced delete';

/**
 * A fenced delete is how a consumer proves it still owned the message it acknowledges: a
 * Worker whose lease was lost must be told so, whether another claim holds the message now
 * or has already deleted it.
 */
export const fencedDeleteCases: ConformanceCase[] = [
  {
    group,
    name: 'under a live claim a fenced delete deletes; once gone, a fenced delete is MessageNotFoundError',
    async run({ driver, project }) {
      const [id] = (await driver.messages.post(project, 'q', [{ body: 1 }], 'c')) as [string];
      const claim = await driver.claims.create(project, 'q', { limit: 1, ttl: 60 });
      assert.equal(claim?.messages[0]?.id, id);
      await driver.messages.delete(project, 'q', id, { claimId: claim?.id as string, fenced: true });
      await rejectsWith(driver.messages.get(project, 'q', id), MessageNotFoundError);
      await rejectsWith(
        driver.messages.delete(project, 'q', id, { claimId: claim?.id as string, fenced: true }),
        MessageNotFoundError,
        (e) => assert.equal(e.messageId, id),
      );
      await rejectsWith(driver.messages.delete(project, 'no-such-queue', id, { fenced: true }), MessageNotFoundError);
      // Without `fenced` the Zaqar answer stays: a missing message is no error.
      await driver.messages.delete(project, 'q', id, { claimId: claim?.id as string });
    },
  },
  {
    group,
    name: 'after the claim expired and the message was re-claimed, the first claim is refused, before and after the second deletes',
    async run({ driver, clock, project }) {
      const [id, other] = (await driver.messages.post(project, 'q', [{ body: 1 }, { body: 2 }], 'c')) as [
        string,
        string,
      ];
      const first = await driver.claims.create(project, 'q', { limit: 1, ttl: 60, grace: 60 });
      assert.equal(first?.messages[0]?.id, id);
      clock.advance(seconds(61));
      const second = await driver.claims.create(project, 'q', { limit: 1, ttl: 60, grace: 60 });
      assert.equal(second?.messages[0]?.id, id, 'the expired claim freed the message for another claim');

      await rejectsWith(
        driver.messages.delete(project, 'q', id, { claimId: first?.id as string, fenced: true }),
        MessageNotClaimedByError,
      );
      assert.equal((await driver.messages.get(project, 'q', id)).id, id, 'a refused delete changes nothing');
      await driver.messages.delete(project, 'q', id, { claimId: second?.id as string, fenced: true });
      await rejectsWith(
        driver.messages.delete(project, 'q', id, { claimId: first?.id as string, fenced: true }),
        MessageNotFoundError,
      );
      // The other message was never touched by either claim.
      assert.equal((await driver.messages.get(project, 'q', other)).id, other);
    },
  },
  {
    group,
    name: 'a fenced bulk delete deletes and reports only what the live claims named still hold',
    async run({ driver, clock, project }) {
      const [m1, m2, m3, m4, m5] = (await driver.messages.post(
        project,
        'q',
        [1, 2, 3, 4, 5].map((body) => ({ body })),
        'c',
      )) as [string, string, string, string, string];
      const a = await driver.claims.create(project, 'q', { limit: 1, ttl: 60, grace: 60 });
      assert.deepEqual(
        a?.messages.map((m) => m.id),
        [m1],
      );
      clock.advance(seconds(61));
      const b = await driver.claims.create(project, 'q', { limit: 1, ttl: 60, grace: 60 });
      assert.deepEqual(
        b?.messages.map((m) => m.id),
        [m1],
        'the expired claim freed its message for another',
      );
      const c = await driver.claims.create(project, 'q', { limit: 2, ttl: 60, grace: 60 });
      assert.deepEqual(
        c?.messages.map((m) => m.id),
        [m2, m3],
      );
      const unknown = m1.replace(/.$/, (x) => (x === '0' ? '1' : '0'));
      const deleted = await driver.messages.bulkDelete(project, 'q', [m3, m1, unknown, m2, m4, m3], {
        claimIds: [a?.id as string, c?.id as string],
      });
      assert.deepEqual(deleted, [m3, m2], 'only what a live claim named holds, in the order asked, once each');
      assert.equal((await driver.messages.get(project, 'q', m1)).claimId, b?.id, 'the re-claimed message stays');
      assert.equal((await driver.messages.get(project, 'q', m4)).id, m4, 'a free message stays');
      await rejectsWith(driver.messages.get(project, 'q', m2), MessageNotFoundError);
      assert.deepEqual(await driver.messages.bulkDelete(project, 'q', [m1, m2], { claimIds: [b?.id as string] }), [m1]);
      // Unfenced, it reports what existed, claimed or not; gone and unknown ids are left out.
      const d = await driver.claims.create(project, 'q', { limit: 1, ttl: 60 });
      assert.deepEqual(
        d?.messages.map((m) => m.id),
        [m4],
      );
      assert.deepEqual(await driver.messages.bulkDelete(project, 'q', [m5, m2, m4, unknown, m5]), [m5, m4]);
      assert.deepEqual(await driver.messages.bulkDelete(project, 'q', [m5, m4]), []);
      assert.deepEqual(await driver.messages.bulkDelete(project, 'no-such-queue', [m5]), []);
    },
  },
  {
    group,
    name: 'a fenced bulk delete under an expired or released claim deletes nothing, though no other claim took the messages',
    async run({ driver, clock, project }) {
      const [m1, m2, m3] = (await driver.messages.post(
        project,
        'q',
        [1, 2, 3].map((body) => ({ body })),
        'c',
      )) as [string, string, string];
      const expiring = await driver.claims.create(project, 'q', { limit: 2, ttl: 60, grace: 60 });
      assert.deepEqual(
        expiring?.messages.map((m) => m.id),
        [m1, m2],
      );
      const released = await driver.claims.create(project, 'q', { limit: 1, ttl: 120, grace: 60 });
      assert.deepEqual(
        released?.messages.map((m) => m.id),
        [m3],
      );
      await driver.claims.delete(project, 'q', released?.id as string);
      clock.advance(seconds(61));
      const claimIds = [expiring?.id as string, released?.id as string];
      assert.deepEqual(await driver.messages.bulkDelete(project, 'q', [m1, m2, m3], { claimIds }), []);
      for (const id of [m1, m2, m3]) {
        const message = await driver.messages.get(project, 'q', id);
        assert.equal(message.claimId, null, 'the message stays, free');
      }
    },
  },
];
