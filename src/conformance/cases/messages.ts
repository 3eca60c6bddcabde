import assert from 'node:assert/strict';
import {
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
} from '../../core/index.js';
import type { DataDriver } from '../../store/contract/index.js';
import type { ConformanceCase } from '../harness.js';
import { rejectsWith, seconds } from '../harness.js';

const group = 'messages';

/** Every id of a queue in list order, read page by page. */
export async function allIds(driver: DataDriver, project: string, queue: string, options = {}): Promise<string[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await driver.messages.list(project, queue, {
      echo: true,
      includeClaimed: true,
      limit: 20,
      ...options,
      ...(marker ? { marker } : {}),
    });
    if (page.messages.length === 0) return ids;
    ids.push(...page.messages.map((m) => m.id));
    marker = page.marker ?? undefined;
  }
}

export const messageCases: ConformanceCase[] = [
  {
    group,
    name: 'post returns distinct ids in order, creates the queue, and get returns what was posted',
    async run({ driver, clock, project }) {
      const ids = await driver.messages.post(
        project,
        'q',
        [{ body: { n: 1 }, ttl: 120 }, { body: 'two', ttl: 300, checksum: 'MD5:abc' }, { body: [3] }],
        'client-a',
      );
      assert.equal(ids.length, 3);
      assert.equal(new Set(ids).size, 3);
      assert.equal(await driver.queues.exists(project, 'q'), true);
      clock.advance(seconds(5));
      const second = await driver.messages.get(project, 'q', ids[1] as string);
      assert.equal(second.id, ids[1]);
      assert.equal(second.body, 'two');
      assert.equal(second.ttl, 300);
      assert.equal(second.age, 5);
      assert.equal(second.checksum, 'MD5:abc');
      assert.equal(second.claimId, null);
      assert.equal(second.claimCount, 0);
      assert.equal(second.clientId, 'client-a');
      assert.equal(second.expiresAt - second.createdAt, seconds(300));
      const third = await driver.messages.get(project, 'q', ids[2] as string);
      assert.equal(third.ttl, driver.limits.defaultMessageTtl);
      assert.equal(third.checksum, undefined);
      await rejectsWith(driver.messages.get(project, 'q', 'no-such-id'), MessageNotFoundError);
      await rejectsWith(driver.messages.get(project, 'other', ids[0] as string), MessageNotFoundError);
    },
  },
  {
    group,
    name: 'bodies round-trip: JSON values of every kind and byte arrays',
    async run({ driver, project }) {
      const bodies = [
        null,
        true,
        0,
        -17,
        3.25,
        '',
        'ünïcødé ✉',
        [],
        {},
        { nested: { list: [1, 'a', null, false, { deep: [[]] }] } },
        new Uint8Array([0, 1, 2, 255]),
        { attachment: new Uint8Array([13, 10, 46, 13, 10]) },
      ];
      const ids = await driver.messages.post(
        project,
        'q',
        bodies.map((body) => ({ body })),
        'c',
      );
      const got = await driver.messages.bulkGet(project, 'q', ids);
      assert.equal(got.length, bodies.length);
      got.forEach((m, i) => {
        const want = bodies[i];
        if (want instanceof Uint8Array) {
          assert.ok(m.body instanceof Uint8Array, `body ${i} should be bytes`);
          assert.deepEqual([...(m.body as Uint8Array)], [...want]);
        } else if (i === bodies.length - 1) {
          const att = (m.body as { attachment: Uint8Array }).attachment;
          assert.ok(att instanceof Uint8Array);
          assert.deepEqual([...att], [13, 10, 46, 13, 10]);
        } else {
          assert.deepEqual(m.body, want);
        }
      });
    },
  },
  {
    group,
    name: 'bodies are copied: changing a posted or returned body changes nothing stored',
    async run({ driver, project }) {
      const body = { items: [1, 2] };
      const [id] = await driver.messages.post(project, 'q', [{ body }], 'c');
      body.items.push(3);
      const read = await driver.messages.get(project, 'q', id as string);
      assert.deepEqual(read.body, { items: [1, 2] });
      (read.body as { items: number[] }).items.push(4);
      assert.deepEqual((await driver.messages.get(project, 'q', id as string)).body, { items: [1, 2] });
    },
  },
  {
    group,
    name: 'FIFO: listing returns messages in the order they were posted, across batches',
    async run({ driver, project }) {
      const posted: string[] = [];
      for (let batch = 0; batch < 7; batch++) {
        const size = (batch % 4) + 1;
        posted.push(
          ...(await driver.messages.post(
            project,
            'q',
            Array.from({ length: size }, (_, i) => ({ body: { batch, i } })),
            'c',
          )),
        );
      }
      assert.deepEqual(await allIds(driver, project, 'q'), posted);
      assert.equal((await driver.messages.first(project, 'q'))?.id, posted[0]);
      assert.equal((await driver.messages.first(project, 'q', 'oldest'))?.id, posted[0]);
      assert.equal((await driver.messages.first(project, 'q', 'newest'))?.id, posted[posted.length - 1]);
      await driver.queues.create(project, 'empty');
      assert.equal(await driver.messages.first(project, 'empty'), null);
    },
  },
  {
    group,
    name: 'marker paging neither skips nor repeats, and a page ends where the next begins',
    async run({ driver, project }) {
      const posted = await driver.messages.post(
        project,
        'q',
        Array.from({ length: 17 }, (_, i) => ({ body: i })),
        'c',
      );
      const seen: string[] = [];
      let marker: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await driver.messages.list(project, 'q', { limit: 4, echo: true, ...(marker ? { marker } : {}) });
        if (page.messages.length === 0) {
          assert.equal(page.marker, marker ?? null, 'an empty page hands back the marker it was given');
          break;
        }
        assert.ok(page.messages.length <= 4);
        seen.push(...page.messages.map((m) => m.id));
        marker = page.marker ?? undefined;
      }
      assert.deepEqual(seen, posted);
      // A marker stays valid after the message it points at is deleted.
      const page1 = await driver.messages.list(project, 'q', { limit: 3, echo: true });
      await driver.messages.delete(project, 'q', page1.messages[2]?.id as string);
      const page2 = await driver.messages.list(project, 'q', { limit: 3, echo: true, marker: page1.marker as string });
      assert.deepEqual(
        page2.messages.map((m) => m.id),
        posted.slice(3, 6),
      );
      // New messages appear after the last marker.
      const [late] = await driver.messages.post(project, 'q', [{ body: 'late' }], 'c');
      const tail = await driver.messages.list(project, 'q', { echo: true, marker: marker as string });
      assert.deepEqual(
        tail.messages.map((m) => m.id),
        [late],
      );
    },
  },
  {
    group,
    name: 'marker paging neither skips nor repeats while producers post concurrently',
    async run({ driver, project }) {
      const producers = 4;
      const batches = 12;
      const posted: string[][] = Array.from({ length: producers }, () => []);
      let producing = true;
      const produce = async (p: number) => {
        for (let b = 0; b < batches; b++) {
          const ids = await driver.messages.post(
            project,
            'q',
            Array.from({ length: 1 + ((b + p) % 3) }, (_, i) => ({ body: { p, b, i } })),
            `producer-${p}`,
          );
          posted[p]?.push(...ids);
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const seen: string[] = [];
      const read = async () => {
        let marker: string | undefined;
        for (;;) {
          const wasProducing = producing;
          const page = await driver.messages.list(project, 'q', {
            limit: 5,
            echo: true,
            ...(marker ? { marker } : {}),
          });
          seen.push(...page.messages.map((m) => m.id));
          marker = page.marker ?? marker;
          if (page.messages.length === 0 && !wasProducing) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await driver.queues.create(project, 'q');
      const reader = read();
      await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)));
      producing = false;
      await reader;
      const all = posted.flat();
      assert.equal(seen.length, all.length, 'every posted message is seen exactly once');
      assert.equal(new Set(seen).size, seen.length, 'no message is seen twice');
      assert.deepEqual(new Set(seen), new Set(all));
      for (const ids of posted) {
        const positions = ids.map((id) => seen.indexOf(id));
        assert.deepEqual(
          positions,
          [...positions].sort((a, b) => a - b),
          "each producer's messages keep their order",
        );
      }
      assert.deepEqual(await allIds(driver, project, 'q'), seen, 'the reader saw the queue in its FIFO order');
    },
  },
  {
    group,
    name: 'echo: a client does not see its own messages unless it asks to',
    async run({ driver, project }) {
      const [mine] = await driver.messages.post(project, 'q', [{ body: 'mine' }], 'alice');
      const [theirs] = await driver.messages.post(project, 'q', [{ body: 'theirs' }], 'bob');
      const ids = async (options: object) =>
        (await driver.messages.list(project, 'q', options)).messages.map((m) => m.id);
      assert.deepEqual(await ids({ clientId: 'alice' }), [theirs]);
      assert.deepEqual(await ids({ clientId: 'alice', echo: false }), [theirs]);
      assert.deepEqual(await ids({ clientId: 'alice', echo: true }), [mine, theirs]);
      assert.deepEqual(await ids({ clientId: 'bob' }), [mine]);
      assert.deepEqual(await ids({}), [mine, theirs]);
    },
  },
  {
    group,
    name: 'listing hides claimed messages unless includeClaimed',
    async run({ driver, project }) {
      const ids = await driver.messages.post(project, 'q', [{ body: 1 }, { body: 2 }, { body: 3 }], 'c');
      const claim = await driver.claims.create(project, 'q', { limit: 2 });
      assert.ok(claim);
      const visible = await driver.messages.list(project, 'q', { echo: true });
      assert.deepEqual(
        visible.messages.map((m) => m.id),
        [ids[2]],
      );
      const everything = await driver.messages.list(project, 'q', { echo: true, includeClaimed: true });
      assert.deepEqual(
        everything.messages.map((m) => m.id),
        ids,
      );
      assert.equal(everything.messages[0]?.claimId, claim.id);
      assert.equal(everything.messages[2]?.claimId, null);
    },
  },
  {
    group,
    name: 'bulkGet returns live messages in the order asked and leaves unknown ids out',
    async run({ driver, project }) {
      const ids = await driver.messages.post(project, 'q', [{ body: 'a' }, { body: 'b' }, { body: 'c' }], 'c');
      const [a, b, c] = ids as [string, string, string];
      const got = await driver.messages.bulkGet(project, 'q', [c, 'unknown', a, c]);
      assert.deepEqual(
        got.map((m) => m.body),
        ['c', 'a'],
      );
      await driver.messages.delete(project, 'q', b);
      assert.deepEqual(await driver.messages.bulkGet(project, 'q', [b]), []);
      assert.deepEqual(await driver.messages.bulkGet(project, 'missing-queue', [a]), []);
    },
  },
  {
    group,
    name: 'delete: free messages go; claimed ones need their claim id; wrong claims are refused',
    async run({ driver, clock, project }) {
      const [free, held, other] = (await driver.messages.post(
        project,
        'q',
        [{ body: 1 }, { body: 2 }, { body: 3 }],
        'c',
      )) as [string, string, string];
      await driver.messages.delete(project, 'q', free);
      await rejectsWith(driver.messages.get(project, 'q', free), MessageNotFoundError);
      await driver.messages.delete(project, 'q', free); // gone already: no error
      await driver.messages.delete(project, 'no-such-queue', free);

      const claimA = await driver.claims.create(project, 'q', { limit: 1, ttl: 60 });
      const claimB = await driver.claims.create(project, 'q', { limit: 1, ttl: 120 });
      assert.equal(claimA?.messages[0]?.id, held);
      assert.equal(claimB?.messages[0]?.id, other);

      await rejectsWith(driver.messages.delete(project, 'q', held), MessageClaimedError, (e) =>
        assert.equal(e.messageId, held),
      );
      await rejectsWith(
        driver.messages.delete(project, 'q', held, { claimId: claimB?.id as string }),
        MessageNotClaimedByError,
      );
      await rejectsWith(
        driver.messages.delete(project, 'q', held, { claimId: 'not-a-claim' }),
        MessageNotClaimedByError,
      );
      assert.equal((await driver.messages.get(project, 'q', held)).id, held, 'refused deletes change nothing');
      await driver.messages.delete(project, 'q', held, { claimId: claimA?.id as string });
      await rejectsWith(driver.messages.get(project, 'q', held), MessageNotFoundError);

      // Once claim B has expired, its id no longer holds the message.
      clock.advance(seconds(121));
      await rejectsWith(
        driver.messages.delete(project, 'q', other, { claimId: claimB?.id as string }),
        MessageNotClaimedError,
      );
      await driver.messages.delete(project, 'q', other);
      assert.equal((await driver.queues.stats(project, 'q')).total, 0);
    },
  },
  {
    group,
    name: 'bulkDelete removes the listed messages, claimed or not, unless claim ids narrow it',
    async run({ driver, project }) {
      const ids = (await driver.messages.post(
        project,
        'q',
        Array.from({ length: 6 }, (_, i) => ({ body: i })),
        'c',
      )) as string[];
      const claim = await driver.claims.create(project, 'q', { limit: 2 });
      assert.deepEqual(
        claim?.messages.map((m) => m.id),
        ids.slice(0, 2),
      );
      await driver.messages.bulkDelete(project, 'q', [ids[0] as string, ids[2] as string, 'unknown']);
      assert.deepEqual(await allIds(driver, project, 'q'), [ids[1], ids[3], ids[4], ids[5]]);
      await driver.messages.bulkDelete(project, 'q', [ids[1] as string, ids[3] as string], {
        claimIds: ['other-claim'],
      });
      assert.deepEqual(await allIds(driver, project, 'q'), [ids[1], ids[3], ids[4], ids[5]]);
      await driver.messages.bulkDelete(project, 'q', [ids[1] as string, ids[3] as string], {
        claimIds: [claim?.id as string],
      });
      assert.deepEqual(await allIds(driver, project, 'q'), [ids[3], ids[4], ids[5]]);
      await driver.messages.bulkDelete(project, 'missing', [ids[4] as string]);
      await driver.messages.bulkDelete(project, 'q', []);
      assert.equal((await allIds(driver, project, 'q')).length, 3);
    },
  },
  {
    group,
    name: 'pop takes and deletes the oldest free visible messages, at most limit',
    async run({ driver, clock, project }) {
      const ids = (await driver.messages.post(
        project,
        'q',
        Array.from({ length: 5 }, (_, i) => ({ body: i })),
        'c',
      )) as string[];
      const [delayed] = await driver.messages.post(project, 'q', [{ body: 'later', delay: 30 }], 'c');
      const claim = await driver.claims.create(project, 'q', { limit: 1 });
      assert.equal(claim?.messages[0]?.id, ids[0]);
      const popped = await driver.messages.pop(project, 'q', 2);
      assert.deepEqual(
        popped.map((m) => m.id),
        ids.slice(1, 3),
      );
      assert.deepEqual(
        popped.map((m) => m.body),
        [1, 2],
      );
      for (const m of popped) await rejectsWith(driver.messages.get(project, 'q', m.id), MessageNotFoundError);
      const rest = await driver.messages.pop(project, 'q', 10);
      assert.deepEqual(
        rest.map((m) => m.id),
        ids.slice(3),
        'pop skips claimed and delayed messages',
      );
      assert.deepEqual(await driver.messages.pop(project, 'q', 5), []);
      clock.advance(seconds(31));
      assert.deepEqual(
        (await driver.messages.pop(project, 'q', 5)).map((m) => m.id),
        [delayed],
      );
      assert.deepEqual(await driver.messages.pop(project, 'never-made', 5), []);
    },
  },
];
