/**
 * Claims and bulk deletes that many consumers of one process make at once go to PostgreSQL
 * together (src/store/postgres/call-lanes.ts, take_claims and delete_claimed of migration 3; both
 * at once, delete_and_take of migration 8). These tests make such batches on purpose and check that each call keeps its own meaning.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { FakeClock } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { adminQuery, DATABASE_URL, freshSchema, trackDrivers, withPostgres } from './postgres-support.js';

const schema = freshSchema('lanes');
const open = (clock = new FakeClock()) => createPostgresDriver({ url: DATABASE_URL, schema, clock });

/** Transactions that wrote the claims of `project` (claims made together share one). */
async function claimTransactions(project: string): Promise<number> {
  const result = await adminQuery<{ n: number }>(
    `SELECT count(DISTINCT c.xmin::text)::integer AS n FROM "${schema}".claims c
       JOIN "${schema}".queues q ON q.id = c.queue_id WHERE q.project = $1`,
    [project],
  );
  return result.rows[0]?.n ?? 0;
}

async function post(driver: DataDriver, project: string, queue: string, count: number): Promise<string[]> {
  return driver.messages.post(
    project,
    queue,
    Array.from({ length: count }, (_, i) => ({ body: i })),
    'producer',
  );
}

await withPostgres('postgres claim and delete lanes', () => {
  describe('postgres claim and delete lanes', () => {
    const track = trackDrivers(schema);

    it('claims made at once share a transaction and split the oldest messages in the order asked, each on its own terms', async () => {
      const clock = new FakeClock();
      const driver = await track(open(clock));
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 30);
      const terms = [
        { limit: 5, ttl: 60, grace: 60 },
        { limit: 10, ttl: 120, grace: 300 },
        { limit: 3, ttl: 600, grace: 90 },
        { limit: 20, ttl: 90, grace: 60 },
      ];
      const claims = await Promise.all(terms.map((t) => driver.claims.create(project, 'q', t)));
      assert.equal(await claimTransactions(project), 1, 'one transaction for the four claims');
      // In the order they were asked: 5, then 10, then 3, then what is left of the 30.
      assert.deepEqual(
        claims.map((c) => c?.messages.map((m) => m.id)),
        [ids.slice(0, 5), ids.slice(5, 15), ids.slice(15, 18), ids.slice(18, 30)],
      );
      for (const [i, claim] of claims.entries()) {
        assert.ok(claim);
        const t = terms[i] as (typeof terms)[number];
        assert.equal(claim.ttl, t.ttl);
        assert.equal(claim.expiresAt, clock.now() + t.ttl * 1000);
        for (const m of claim.messages) {
          assert.equal(m.claimId, claim.id);
          assert.equal(m.claimExpiresAt, claim.expiresAt);
        }
        const stored = await driver.claims.get(project, 'q', claim.id);
        assert.equal(stored.ttl, t.ttl);
        assert.equal(stored.grace, t.grace);
        assert.deepEqual(
          stored.messages.map((m) => m.id),
          claim.messages.map((m) => m.id),
        );
      }
      assert.equal(new Set(claims.map((c) => c?.id)).size, 4);
    });

    it('a combined claim that runs out gives the first callers full claims and the last ones nothing', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 7);
      const claims = await Promise.all([5, 5, 5].map((limit) => driver.claims.create(project, 'q', { limit })));
      assert.deepEqual(
        claims.map((c) => c?.messages.map((m) => m.id) ?? null),
        [ids.slice(0, 5), ids.slice(5, 7), null],
      );
      // The claim that got nothing left no row behind.
      assert.equal(
        (
          await adminQuery(
            `SELECT 1 FROM "${schema}".claims c JOIN "${schema}".queues q ON q.id = c.queue_id WHERE q.project = $1`,
            [project],
          )
        ).rowCount,
        2,
      );
    });

    it('a message claimed to its limit moves to the dead-letter queue on the way, and the claims made together take others', async () => {
      const clock = new FakeClock();
      const driver = await track(open(clock));
      const project = `p-${randomBytes(4).toString('hex')}`;
      await driver.queues.create(project, 'work', { _max_claim_count: 1, _dead_letter_queue: 'dlq' });
      const [poison, ...rest] = await post(driver, project, 'work', 6);
      const first = await driver.claims.create(project, 'work', { limit: 1, ttl: 60 });
      assert.deepEqual(
        first?.messages.map((m) => m.id),
        [poison],
      );
      clock.advance(60_000);
      const claims = await Promise.all([2, 2, 2].map((limit) => driver.claims.create(project, 'work', { limit })));
      assert.deepEqual(
        claims.map((c) => c?.messages.map((m) => m.id)),
        [rest.slice(0, 2), rest.slice(2, 4), rest.slice(4, 5)],
      );
      assert.deepEqual(await allIds(driver, project, 'dlq'), [poison]);
    });

    it('deletes made at once delete only what each one’s claim holds', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 12);
      const [a, b, c] = await Promise.all([4, 4, 4].map((limit) => driver.claims.create(project, 'q', { limit })));
      assert.ok(a && b && c);
      const idsOf = (claim: typeof a) => claim.messages.map((m) => m.id);
      await Promise.all([
        // a's own messages, plus one of b's named with a's claim id: that one stays.
        driver.messages.bulkDelete(project, 'q', [...idsOf(a), idsOf(b)[0] as string], { claimIds: [a.id] }),
        // b's messages named with c's claim id: none go.
        driver.messages.bulkDelete(project, 'q', idsOf(b), { claimIds: [c.id] }),
        // c's first two with its own claim.
        driver.messages.bulkDelete(project, 'q', idsOf(c).slice(0, 2), { claimIds: [c.id] }),
      ]);
      assert.deepEqual(await allIds(driver, project, 'q'), [...idsOf(b), ...idsOf(c).slice(2)]);
      assert.deepEqual(ids.slice(4, 8), idsOf(b));
    });

    it('deletes with claim ids and claims made at once go together, the deletes first, each with its own answer', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 10);
      const a = await driver.claims.create(project, 'q', { limit: 4 });
      assert.ok(a);
      const [gone, b, refused, c] = await Promise.all([
        driver.messages.bulkDelete(
          project,
          'q',
          a.messages.map((m) => m.id),
          { claimIds: [a.id] },
        ),
        driver.claims.create(project, 'q', { limit: 4 }),
        // Free messages named with a's claim id: the claim made with it may take them, the delete never.
        driver.messages.bulkDelete(project, 'q', ids.slice(4, 6), { claimIds: [a.id] }),
        driver.claims.create(project, 'q', { limit: 4 }),
      ]);
      assert.deepEqual(gone, ids.slice(0, 4));
      assert.deepEqual(refused, []);
      assert.deepEqual(
        b?.messages.map((m) => m.id),
        ids.slice(4, 8),
      );
      assert.deepEqual(
        c?.messages.map((m) => m.id),
        ids.slice(8, 10),
      );
      assert.deepEqual(await allIds(driver, project, 'q'), ids.slice(4));
    });

    it('a claim of a queue that does not exist fails alone: a delete made with it finds nothing', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const [claim, deleted] = await Promise.allSettled([
        driver.claims.create(project, 'missing', { limit: 4 }),
        driver.messages.bulkDelete(project, 'missing', ['0'.repeat(32)], { claimIds: ['1'.repeat(32)] }),
      ]);
      assert.equal(claim.status, 'rejected');
      assert.equal((claim as PromiseRejectedResult).reason?.code, 'PH_QUEUE_NOT_FOUND');
      assert.deepEqual(deleted, { status: 'fulfilled', value: [] });
    });

    it('a delete whose claims hold positions far apart finds its messages all the same', async () => {
      const clock = new FakeClock();
      const driver = await track(open(clock));
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 2000);
      const early = await driver.claims.create(project, 'q', { limit: 2, ttl: 60 });
      // Let the rest of the head go, so a later claim takes from far down the queue.
      const middle = ids.slice(2, 1990);
      for (let i = 0; i < middle.length; i += 20) {
        await driver.messages.bulkDelete(project, 'q', middle.slice(i, i + 20));
      }
      const late = await driver.claims.create(project, 'q', { limit: 5, ttl: 60 });
      assert.ok(early && late);
      assert.deepEqual(
        late.messages.map((m) => m.id),
        ids.slice(1990, 1995),
      );
      await Promise.all([
        driver.messages.bulkDelete(
          project,
          'q',
          early.messages.map((m) => m.id),
          { claimIds: [early.id] },
        ),
        driver.messages.bulkDelete(
          project,
          'q',
          late.messages.map((m) => m.id),
          { claimIds: [late.id] },
        ),
      ]);
      assert.deepEqual(await allIds(driver, project, 'q'), ids.slice(1995));
    });

    it('a delete with an expired claim id deletes nothing, made alone or with others', async () => {
      const clock = new FakeClock();
      const driver = await track(open(clock));
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids = await post(driver, project, 'q', 4);
      const old = await driver.claims.create(project, 'q', { limit: 2, ttl: 60 });
      clock.advance(61_000);
      const fresh = await driver.claims.create(project, 'q', { limit: 2, ttl: 60 });
      assert.ok(old && fresh);
      assert.deepEqual(
        fresh.messages.map((m) => m.id),
        ids.slice(0, 2),
        'the expired claim’s messages were free again',
      );
      await Promise.all([
        driver.messages.bulkDelete(project, 'q', ids.slice(0, 2), { claimIds: [old.id] }),
        driver.messages.bulkDelete(project, 'q', ids.slice(2), { claimIds: [old.id] }),
      ]);
      assert.deepEqual(await allIds(driver, project, 'q'), ids);
      await driver.messages.bulkDelete(project, 'q', ids.slice(0, 2), { claimIds: [fresh.id] });
      assert.deepEqual(await allIds(driver, project, 'q'), ids.slice(2));
    });

    it('single deletes made at once each get their own answer', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const [a, b, c, free] = (await post(driver, project, 'q', 4)) as [string, string, string, string];
      const first = await driver.claims.create(project, 'q', { limit: 2 });
      const second = await driver.claims.create(project, 'q', { limit: 1 });
      assert.ok(first && second);
      assert.deepEqual(
        [...first.messages, ...second.messages].map((m) => m.id),
        [a, b, c],
      );
      const outcomes = await Promise.allSettled([
        driver.messages.delete(project, 'q', a, { claimId: first.id }), // its claim: goes
        driver.messages.delete(project, 'q', b), // claimed, no claim id: refused
        driver.messages.delete(project, 'q', c, { claimId: first.id }), // held by another claim: refused
        driver.messages.delete(project, 'q', free, { claimId: first.id }), // not claimed: refused
        driver.messages.delete(project, 'q', '0123456789abcdef0123456789abcdef'), // not there: fine
      ]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code)),
        ['ok', 'PH_MESSAGE_CLAIMED', 'PH_MESSAGE_NOT_CLAIMED_BY', 'PH_MESSAGE_NOT_CLAIMED', 'ok'],
      );
      assert.deepEqual(await allIds(driver, project, 'q'), [b, c, free]);
    });

    it('sixteen consumers draining one queue get every message exactly once, in few statements', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(...(await post(driver, project, 'q', 100)));
      const seen: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const claim = await driver.claims.create(project, 'q', { limit: 20 });
            if (!claim) return;
            seen.push(...claim.messages.map((m) => m.id));
            await driver.messages.bulkDelete(
              project,
              'q',
              claim.messages.map((m) => m.id),
              { claimIds: [claim.id] },
            );
          }
        }),
      );
      assert.equal(seen.length, ids.length, 'nothing delivered twice');
      assert.deepEqual([...seen].sort(), [...ids].sort());
      assert.equal((await driver.queues.stats(project, 'q')).total, 0);
      // 1000 messages in claims of 20 are 50 claims; made together they took far fewer transactions.
      const transactions = await claimTransactions(project);
      assert.ok(transactions <= 10, `50 claims took ${transactions} transactions`);
    });
  });
});
