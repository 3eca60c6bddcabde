import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { encodeValue, FakeClock, StorageMisconfiguredError } from '../../src/core/index.js';
import {
  createPostgresDriver,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type Migration,
  migrate,
  parsePostgresUri,
} from '../../src/store/postgres/index.js';
import { adminQuery, DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';

const schemas: string[] = [];
function schemaForTest(tag: string): string {
  const schema = freshSchema(tag);
  schemas.push(schema);
  return schema;
}

function pool(): pg.Pool {
  const { pool: config } = parsePostgresUri(DATABASE_URL);
  const p = new pg.Pool({ ...config, user: config.user || process.env.PGUSER || 'root', max: 2 });
  p.on('error', () => {});
  return p;
}

async function versions(schema: string): Promise<number[]> {
  const rows = (await adminQuery<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY 1`))
    .rows;
  return rows.map((r) => Number(r.version));
}

await withPostgres('postgres migrations', () => {
  describe('postgres migrations', () => {
    after(async () => {
      for (const schema of schemas) await dropSchema(schema);
    });

    it('upgrades a schema left at version 1, keeping its data', async () => {
      assert.ok(LATEST_SCHEMA_VERSION >= 2, 'there is something to upgrade to');
      const schema = schemaForTest('upgrade');
      const p = pool();
      try {
        assert.deepEqual(await migrate(p, schema, { target: 1 }), { from: 0, to: 1, applied: [1] });
      } finally {
        await p.end();
      }
      // Data written by a server of version 1: a queue with a counter and two messages.
      const clock = new FakeClock();
      const now = clock.now();
      const queue = await adminQuery<{ id: string }>(
        `INSERT INTO "${schema}".queues (project, name, metadata, next_seq, created_at)
         VALUES ('p', 'old', '{"kept":true}', 3, $1) RETURNING id`,
        [now],
      );
      const queueId = queue.rows[0]?.id;
      for (const [seq, id, text] of [
        [1, '0000000000010000000000000000000a', 'first'],
        [2, '0000000000010000000000000000000b', 'second'],
      ] as const) {
        await adminQuery(
          `INSERT INTO "${schema}".messages (queue_id, seq, id, ttl, created_at, expires_at, visible_at, client_id, body)
           VALUES ($1, $2, $3, 3600, $4, $5, $4, 'c', $6)`,
          [queueId, seq, id, now, now + 3_600_000, encodeValue(text)],
        );
      }
      assert.deepEqual(await versions(schema), [1]);

      const driver = await createPostgresDriver({ url: DATABASE_URL, schema, clock });
      try {
        assert.deepEqual(
          await versions(schema),
          MIGRATIONS.map((m) => m.version),
        );
        assert.deepEqual(await driver.queues.getMetadata('p', 'old'), { kept: true });
        const [late] = await driver.messages.post('p', 'old', [{ body: 'third' }], 'c');
        const claim = await driver.claims.create('p', 'old', { limit: 5 });
        assert.deepEqual(
          claim?.messages.map((m) => m.body),
          ['first', 'second', 'third'],
          'old messages come first, new ones continue the old positions',
        );
        assert.equal(claim?.messages[2]?.id, late);
      } finally {
        await driver.close();
      }
    });

    it('several servers starting at once apply each migration exactly once', async () => {
      const schema = schemaForTest('race');
      const pools = Array.from({ length: 4 }, () => pool());
      try {
        const reports = await Promise.all(pools.map((p) => migrate(p, schema)));
        const applied = reports.flatMap((r) => r.applied).sort((a, b) => a - b);
        assert.deepEqual(
          applied,
          MIGRATIONS.map((m) => m.version),
          'every version applied by exactly one of them',
        );
        for (const r of reports) assert.equal(r.to, LATEST_SCHEMA_VERSION);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
      assert.deepEqual(
        await versions(schema),
        MIGRATIONS.map((m) => m.version),
      );
      // And drivers opening together on a new schema all come up.
      const other = schemaForTest('open');
      const drivers = await Promise.all(
        Array.from({ length: 3 }, () => createPostgresDriver({ url: DATABASE_URL, schema: other })),
      );
      try {
        await drivers[0]?.messages.post('p', 'q', [{ body: 1 }], 'c');
        assert.equal((await drivers[2]?.queues.stats('p', 'q'))?.total, 1);
      } finally {
        await Promise.all(drivers.map((d) => d.close()));
      }
      assert.deepEqual(
        await versions(other),
        MIGRATIONS.map((m) => m.version),
      );
    });

    it('a migration that fails leaves the schema at the version before, with nothing of it applied', async () => {
      const schema = schemaForTest('broken');
      const broken: Migration = {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'half a change',
        sql: (s) => `CREATE TABLE ${s}.half (x integer); SELECT no_such_function();`,
      };
      const p = pool();
      try {
        await assert.rejects(migrate(p, schema, { migrations: [...MIGRATIONS, broken] }));
        const tables = await adminQuery(
          `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'half'`,
          [schema],
        );
        assert.equal(tables.rowCount, 0, 'the failed migration left no table behind');
      } finally {
        await p.end();
      }
      assert.deepEqual(
        await versions(schema),
        MIGRATIONS.map((m) => m.version),
      );
    });

    it('refuses a schema newer than this code, changing nothing', async () => {
      const schema = schemaForTest('newer');
      const p = pool();
      try {
        await migrate(p, schema);
      } finally {
        await p.end();
      }
      await adminQuery(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`, [
        LATEST_SCHEMA_VERSION + 7,
      ]);
      await assert.rejects(createPostgresDriver({ url: DATABASE_URL, schema }), (error: unknown) => {
        assert.ok(error instanceof StorageMisconfiguredError, String(error));
        assert.match(error.message, /newer than this Posthorn knows/);
        return true;
      });
      assert.deepEqual(await versions(schema), [...MIGRATIONS.map((m) => m.version), LATEST_SCHEMA_VERSION + 7]);
    });
  });
});
