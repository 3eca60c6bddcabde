import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { allIds } from '../../src/conformance/cases/messages.js';
import { encodeValue, FakeClock, InvalidArgumentError, newId, StorageUnavailableError } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver, parsePostgresUri } from '../../src/store/postgres/index.js';
import { adminQuery, DATABASE_URL, freshSchema, trackDrivers, withPostgres } from './postgres-support.js';

const schema = freshSchema('driver');
const open = (clock = new FakeClock()) => createPostgresDriver({ url: DATABASE_URL, schema, clock });

function rawClient(): pg.Client {
  const { pool } = parsePostgresUri(DATABASE_URL);
  const client = new pg.Client({ ...pool, user: pool.user || process.env.PGUSER || 'root' });
  client.on('error', () => {});
  return client;
}

await withPostgres('postgres driver', () => {
  describe('postgres driver', () => {
    const track = trackDrivers(schema);

    it('a post that commits late is never skipped by a reader paging with markers', async () => {
      const clock = new FakeClock();
      const writer = await track(open(clock));
      const reader = await track(open(clock));
      const project = `p-${randomBytes(4).toString('hex')}`;
      await writer.messages.post(project, 'q', [{ body: 'before' }], 'c');
      const start = await reader.messages.list(project, 'q', { echo: true });
      assert.equal(start.messages.length, 1);

      // Another server's post that has taken its position but not yet committed.
      const slow = rawClient();
      await slow.connect();
      const slowPid = (await slow.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
      try {
        await slow.query('BEGIN');
        const now = clock.now();
        const id = newId(now);
        const lateBody = encodeValue('late');
        await slow.query(
          `SELECT "${schema}".post_messages($1, 'q', $2, $3::uuid[], '{c}', $4::bigint[], $5::bigint[], $4::bigint[],
                                          '{3600}', '{NULL}', $6::integer[], $7)`,
          [project, now, [id], [now], [now + 3_600_000], [lateBody.length], lateBody],
        );
        // A post through the driver must wait for it, or it would take a later position and
        // commit first, and a reader would page past the slow one.
        let afterDone = false;
        const afterPost = writer.messages.post(project, 'q', [{ body: 'after' }], 'c').then((ids) => {
          afterDone = true;
          return ids;
        });
        // Once the server shows the driver's post blocked by the slow transaction, it must not be done.
        const deadline = Date.now() + 30_000; // a deadline for a busy machine
        for (;;) {
          const { rows } = await adminQuery<{ n: number }>(
            'SELECT count(*)::integer AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
            [slowPid],
          );
          if ((rows[0]?.n ?? 0) > 0) break;
          assert.equal(afterDone, false, 'the second post did not wait for the first to commit');
          assert.ok(Date.now() < deadline, 'the second post never waited on the first');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(afterDone, false, 'the second post waits for the first to commit');
        const meanwhile = await reader.messages.list(project, 'q', { echo: true, marker: start.marker as string });
        assert.deepEqual(meanwhile.messages, [], 'nothing uncommitted is visible, so no marker can pass it');
        await slow.query('COMMIT');
        const [afterId] = await afterPost;
        const tail = await reader.messages.list(project, 'q', { echo: true, marker: start.marker as string });
        assert.deepEqual(
          tail.messages.map((m) => m.id),
          [id, afterId],
        );
        assert.deepEqual(
          tail.messages.map((m) => m.body),
          ['late', 'after'],
        );
      } finally {
        await slow.query('ROLLBACK').catch(() => {});
        await slow.end();
      }
    });

    it('several servers posting to one queue while one pages: nothing skipped, nothing repeated', async () => {
      const servers = await Promise.all([track(open()), track(open()), track(open())]);
      const project = `p-${randomBytes(4).toString('hex')}`;
      const reader = servers[0] as DataDriver;
      await reader.queues.create(project, 'q');
      const posted: string[][] = [];
      let producing = true;
      const produce = async (driver: DataDriver, p: number) => {
        const mine: string[] = [];
        posted.push(mine);
        for (let b = 0; b < 15; b++) {
          mine.push(
            ...(await driver.messages.post(
              project,
              'q',
              Array.from({ length: 1 + (b % 3) }, (_, i) => ({ body: { p, b, i } })),
              `producer-${p}`,
            )),
          );
        }
      };
      const seen: string[] = [];
      const read = async () => {
        let marker: string | undefined;
        for (;;) {
          const wasProducing = producing;
          const page = await reader.messages.list(project, 'q', {
            limit: 7,
            echo: true,
            ...(marker ? { marker } : {}),
          });
          seen.push(...page.messages.map((m) => m.id));
          marker = page.marker ?? marker;
          if (page.messages.length === 0 && !wasProducing) return;
        }
      };
      const reading = read();
      await Promise.all(servers.flatMap((d, s) => [produce(d, 2 * s), produce(d, 2 * s + 1)]));
      producing = false;
      await reading;
      const all = posted.flat();
      assert.equal(new Set(seen).size, seen.length, 'no message seen twice');
      assert.deepEqual([...seen].sort(), [...all].sort(), 'every message seen');
      for (const ids of posted) {
        const at = ids.map((id) => seen.indexOf(id));
        assert.deepEqual(
          at,
          [...at].sort((a, b) => a - b),
          "each producer's order is kept",
        );
      }
    });

    it('posts made together to one queue share a commit, and keep the order they were made in', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const calls = Array.from({ length: 40 }, (_, i) =>
        driver.messages.post(project, 'q', [{ body: i }, { body: `${i}b` }], `c${i % 3}`),
      );
      const ids = (await Promise.all(calls)).flat();
      assert.deepEqual(await allIds(driver, project, 'q'), ids);
      // The first post went alone; the 39 made while it was in flight followed in one transaction.
      const transactions = await adminQuery<{ n: number }>(
        `SELECT count(DISTINCT m.xmin::text)::integer AS n FROM "${schema}".messages m
           JOIN "${schema}".queues q ON q.id = m.queue_id WHERE q.project = $1`,
        [project],
      );
      assert.ok((transactions.rows[0]?.n ?? 0) <= 3, `40 posts took ${transactions.rows[0]?.n} transactions`);
      const bodies = (await driver.messages.bulkGet(project, 'q', ids.slice(0, 4))).map((m) => m.body);
      assert.deepEqual(bodies, [0, '0b', 1, '1b']);
    });

    it('bodies of very different sizes in one batch come back byte for byte', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      const big = randomBytes(150_000);
      const bodies = [new Uint8Array(0), { text: 'x'.repeat(20_000) }, new Uint8Array(big), 7, 'ünï ✉'];
      const ids = await driver.messages.post(
        project,
        'q',
        bodies.map((body) => ({ body })),
        'c',
      );
      const got = await driver.messages.bulkGet(project, 'q', ids);
      assert.equal(got.length, bodies.length);
      const [empty, text, bytes] = got.map((m) => m.body);
      assert.ok(empty instanceof Uint8Array && empty.length === 0);
      assert.deepEqual(text, { text: 'x'.repeat(20_000) });
      assert.ok(bytes instanceof Uint8Array && Buffer.from(bytes).equals(big));
      assert.deepEqual(
        got.slice(3).map((m) => m.body),
        [7, 'ünï ✉'],
      );
    });

    it('text PostgreSQL cannot store is refused with a typed error naming the field, and nothing is written', async () => {
      const driver = await track(open());
      const project = `p-${randomBytes(4).toString('hex')}`;
      await driver.messages.post(project, 'q', [{ body: 'kept' }], 'c');
      const bad: [string, string, () => Promise<unknown>][] = [
        ['project', 'a NUL in a project', () => driver.messages.post(`${project}\u0000x`, 'q', [{ body: 1 }], 'c')],
        ['project', 'a lone surrogate in a project', () => driver.queues.create(`${project}\ud800`, 'q')],
        ['clientId', 'a NUL in a client id', () => driver.messages.post(project, 'q', [{ body: 1 }], 'c\u0000')],
        [
          'messages[1].checksum',
          'a NUL in a checksum',
          () => driver.messages.post(project, 'q', [{ body: 1 }, { body: 2, checksum: 'MD5:\u0000' }], 'c'),
        ],
        ['subscriber', 'a NUL in a subscriber', () => driver.subscriptions.create(project, 'q', 'http://a\u0000')],
      ];
      for (const [field, label, call] of bad) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError, `${label}: ${String(error)}`);
          assert.equal(error.field, field, label);
          return true;
        });
      }
      assert.equal((await driver.queues.stats(project, 'q')).total, 1);
      assert.deepEqual((await driver.subscriptions.list(project, 'q')).subscriptions, []);
    });

    it('a server that cannot be reached fails the open quickly with StorageUnavailableError', async () => {
      const started = Date.now();
      await assert.rejects(
        createPostgresDriver({ url: 'postgres://127.0.0.1:1/test?connect_timeout=2', schema }),
        (error: unknown) => {
          assert.ok(error instanceof StorageUnavailableError, String(error));
          assert.match(error.message, /127\.0\.0\.1:1/);
          return true;
        },
      );
      // The open gives up after connect_timeout (2 s); 30 s would be a hang, on any machine.
      assert.ok(Date.now() - started < 30_000, `refused only after ${Date.now() - started} ms: the open hung`);
    });

    it('declares DURABILITY only when commits are durable, and says so when they are not', async () => {
      const warnings: string[] = [];
      const logger = { warn: (message: string) => warnings.push(message) };
      // By default the driver makes its sessions commit synchronously, whatever they were told.
      const forced = await track(
        createPostgresDriver({ url: DATABASE_URL, schema, logger, pool: { options: '-c synchronous_commit=off' } }),
      );
      assert.equal(forced.capabilities.has('DURABILITY'), true);
      assert.equal(warnings.length, 0, warnings.join('; '));
      // Left to a server setting that is not durable, it does not claim durability.
      const lax = await track(
        createPostgresDriver({
          url: DATABASE_URL,
          schema,
          logger,
          synchronousCommit: 'server',
          pool: { options: '-c synchronous_commit=off' },
        }),
      );
      assert.equal(lax.capabilities.has('DURABILITY'), false);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /synchronous_commit is off/);
      assert.doesNotMatch(warnings[0] as string, /password/);
    });
  });
});
