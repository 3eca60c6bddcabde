import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClaimNotFoundError, MessageNotFoundError, QueueNotFoundError } from '../../core/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';

const group = 'claims';

export const claimCases: ConformanceCase[] = [
  {
    group,
    name: 'a claim takes the oldest free messages up to its limit; the next claim takes the next',
    async run({ driver, project }) {
      const ids = (await driver.messages.post(
        project,
        'q',
        Array.from({ length: 7 }, (_, i) => ({ body: i })),
        'c',
      )) as string[];
      const first = await driver.claims.create(project, 'q', { limit: 3, ttl: 100, grace: 60 });
      assert.ok(first);
      assert.deepEqual(
        first.messages.map((m) => m.id),
        ids.slice(0, 3),
      );
      assert.equal(first.ttl, 100);
      assert.equal(first.grace, 60);
      assert.equal(first.age, 0);
      for (const m of first.messages) assert.equal(m.claimId, first.id);
      const second = await driver.claims.create(project, 'q', { limit: 3 });
      assert.deepEqual(
        second?.messages.map((m) => m.id),
        ids.slice(3, 6),
      );
      assert.notEqual(second?.id, first.id);
      const third = await driver.claims.create(project, 'q');
      assert.deepEqual(
        third?.messages.map((m) => m.id),
        ids.slice(6),
      );
      assert.equal(await driver.claims.create(project, 'q'), null, 'nothing left to claim');
      const defaults = await driver.claims.get(project, 'q', third?.id as string);
      assert.equal(defaults.ttl, driver.limits.defaultClaimTtl);
      assert.equal(defaults.grace, driver.limits.defaultClaimGrace);
      await rejectsWith(driver.claims.create(project, 'no-such-queue'), QueueNotFoundError);
    },
  },
  {
    group,
    name: 'get returns the claim with its age and the messages it still holds',
    async run({ driver, clock, project }) {
      const ids = (await driver.messages.post(project, 'q', [{ body: 'a' }, { body: 'b' }], 'c')) as string[];
      const claim = await driver.claims.create(project, 'q', { ttl: 120 });
      assert.ok(claim);
      clock.advance(seconds(30));
      const got = await driver.claims.get(project, 'q', claim.id);
      assert.equal(got.id, claim.id);
      assert.equal(got.age, 30);
      assert.equal(got.ttl, 120);
      assert.equal(got.expiresAt, claim.expiresAt);
      assert.deepEqual(
        got.messages.map((m) => m.body),
        ['a', 'b'],
      );
      await driver.messages.delete(project, 'q', ids[0] as string, { claimId: claim.id });
      assert.deepEqual(
        (await driver.claims.get(project, 'q', claim.id)).messages.map((m) => m.id),
        [ids[1]],
      );
      await rejectsWith(driver.claims.get(project, 'q', 'unknown-claim'), ClaimNotFoundError);
      await rejectsWith(driver.claims.get(project, 'other-queue', claim.id), QueueNotFoundError);
    },
  },
  {
    group,
    name: 'an expired claim frees its messages and is gone',
    async run({ driver, clock, project }) {
      const ids = (await driver.messages.post(project, 'q', [{ body: 1 }, { body: 2 }], 'c')) as string[];
      const claim = await driver.claims.create(project, 'q', { ttl: 60 });
      assert.equal(claim?.messages.length, 2);
      assert.equal(await driver.claims.create(project, 'q'), null);
      clock.advance(seconds(59));
      assert.equal(await driver.claims.create(project, 'q'), null, 'still held one second before expiry');
      clock.advance(seconds(1));
      await rejectsWith(driver.claims.get(project, 'q', claim?.id as string), ClaimNotFoundError);
      const m = await driver.messages.get(project, 'q', ids[0] as string);
      assert.equal(m.claimId, null);
      const again = await driver.claims.create(project, 'q');
      assert.deepEqual(
        again?.messages.map((x) => x.id),
        ids,
      );
      assert.deepEqual(
        again?.messages.map((x) => x.claimCount),
        [2, 2],
        'each claim counts per message',
      );
    },
  },
  {
    group,
    name: 'update renews a claim from now with a new ttl; an expired claim cannot be renewed',
    async run({ driver, clock, project }) {
      await driver.messages.post(project, 'q', [{ body: 1 }], 'c');
      const claim = await driver.claims.create(project, 'q', { ttl: 60 });
      assert.ok(claim);
      clock.advance(seconds(50));
      await driver.claims.update(project, 'q', claim.id, { ttl: 100, grace: 60 });
      const renewed = await driver.claims.get(project, 'q', claim.id);
      assert.equal(renewed.ttl, 100);
      assert.equal(renewed.age, 0, 'renewal resets the age');
      assert.equal(renewed.expiresAt, clock.now() + seconds(100));
      clock.advance(seconds(90));
      assert.equal(await driver.claims.create(project, 'q'), null, 'the renewed claim still holds its message');
      assert.equal((await driver.claims.get(project, 'q', claim.id)).messages.length, 1);
      clock.advance(seconds(10));
      await rejectsWith(driver.claims.update(project, 'q', claim.id, { ttl: 100 }), ClaimNotFoundError);
      await rejectsWith(driver.claims.update(project, 'q', 'unknown', { ttl: 100 }), ClaimNotFoundError);
      assert.equal((await driver.claims.create(project, 'q'))?.messages.length, 1);
    },
  },
  {
    group,
    name: 'delete releases the messages at once and is idempotent',
    async run({ driver, project }) {
      const ids = await driver.messages.post(project, 'q', [{ body: 1 }, { body: 2 }], 'c');
      const claim = await driver.claims.create(project, 'q');
      assert.ok(claim);
      await driver.claims.delete(project, 'q', claim.id);
      await driver.claims.delete(project, 'q', claim.id);
      await driver.claims.delete(project, 'missing-queue', claim.id);
      await rejectsWith(driver.claims.get(project, 'q', claim.id), ClaimNotFoundError);
      assert.equal((await driver.messages.get(project, 'q', ids[0] as string)).claimId, null);
      const again = await driver.claims.create(project, 'q');
      assert.deepEqual(
        again?.messages.map((m) => m.id),
        ids,
      );
    },
  },
  {
    group,
    name: 'a claim lengthens the life of messages that would expire before it ends (ttl + grace)',
    async run({ driver, clock, project }) {
      const [short, long] = (await driver.messages.post(
        project,
        'q',
        [
          { body: 'short', ttl: 60 },
          { body: 'long', ttl: 3600 },
        ],
        'c',
      )) as [string, string];
      clock.advance(seconds(10));
      const claim = await driver.claims.create(project, 'q', { ttl: 120, grace: 90 });
      assert.ok(claim);
      const claimed = await driver.messages.get(project, 'q', short);
      assert.equal(claimed.ttl, 210, 'ttl becomes claim ttl + grace');
      assert.equal(claimed.expiresAt, claim.expiresAt + seconds(90));
      assert.equal((await driver.messages.get(project, 'q', long)).ttl, 3600, 'a longer life is not shortened');
      clock.advance(seconds(120 + 89));
      assert.equal((await driver.messages.get(project, 'q', short)).body, 'short', 'alive during the grace');
      clock.advance(seconds(1));
      await rejectsWith(driver.messages.get(project, 'q', short), MessageNotFoundError);
      assert.equal((await driver.messages.get(project, 'q', long)).body, 'long');
    },
  },
  {
    group,
    name: 'renewing a claim lengthens its messages again',
    async run({ driver, clock, project }) {
      const [id] = (await driver.messages.post(project, 'q', [{ body: 1, ttl: 60 }], 'c')) as [string];
      const claim = await driver.claims.create(project, 'q', { ttl: 60, grace: 60 });
      assert.ok(claim);
      clock.advance(seconds(50));
      await driver.claims.update(project, 'q', claim.id, { ttl: 300, grace: 60 });
      clock.advance(seconds(300));
      const m = await driver.messages.get(project, 'q', id);
      assert.equal(m.expiresAt, clock.now() + seconds(60), 'renewed claim end plus grace');
      assert.equal(m.ttl, 360);
      clock.advance(seconds(60));
      await rejectsWith(driver.messages.get(project, 'q', id), MessageNotFoundError);
    },
  },
  {
    group,
    name: 'claims never overlap under many concurrent claimers (property)',
    async run({ driver, clock, project }) {
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 60 }),
          fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 16 }),
          fc.array(fc.boolean(), { minLength: 0, maxLength: 16 }),
          async (messageCount, limits, releases) => {
            const queue = `prop-${round++}`;
            if (messageCount > 0) {
              await driver.messages.post(
                project,
                queue,
                Array.from({ length: messageCount }, (_, i) => ({ body: i })),
                'c',
              );
            } else {
              await driver.queues.create(project, queue);
            }
            // All claimers start together; some release their claim at once, making room for late ones.
            const claims = await Promise.all(
              limits.map(async (limit, i) => {
                const claim = await driver.claims.create(project, queue, { limit, ttl: 60 });
                if (claim && releases[i]) {
                  await driver.claims.delete(project, queue, claim.id);
                  return null;
                }
                return claim;
              }),
            );
            const holder = new Map<string, string>();
            for (const claim of claims) {
              if (!claim) continue;
              const live = await driver.claims.get(project, queue, claim.id);
              for (const m of live.messages) {
                const previous = holder.get(m.id);
                assert.equal(previous, undefined, `message ${m.id} is held by ${previous} and ${claim.id}`);
                holder.set(m.id, claim.id);
              }
            }
            const stats = await driver.queues.stats(project, queue);
            assert.equal(stats.claimed, holder.size);
            assert.ok(holder.size <= messageCount);
            clock.advance(seconds(61));
            await driver.queues.delete(project, queue);
          },
        ),
        { numRuns: 40 },
      );
    },
  },
  {
    group,
    name: 'claims skip messages whose delay has not passed',
    async run({ driver, clock, project }) {
      const [later] = await driver.messages.post(project, 'q', [{ body: 'later', delay: 60 }], 'c');
      const [now] = await driver.messages.post(project, 'q', [{ body: 'now' }], 'c');
      const claim = await driver.claims.create(project, 'q');
      assert.deepEqual(
        claim?.messages.map((m) => m.id),
        [now],
      );
      clock.advance(seconds(60));
      const next = await driver.claims.create(project, 'q');
      assert.deepEqual(
        next?.messages.map((m) => m.id),
        [later],
      );
    },
  },
];
