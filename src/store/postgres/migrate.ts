import type pg from 'pg';
import { StorageMisconfiguredError } from '../../core/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations/index.js';
import { sqlState, toStorageError } from './storage-errors.js';

export interface MigrationReport {
  /** The schema's version before. */
  from: number;
  /** Its version after. */
  to: number;
  /** The versions this call applied (empty when another server had done it, or nothing was due). */
  applied: number[];
}

export interface MigrateOptions {
  /** Stop at this version instead of the latest (tests build old schemas with it). */
  target?: number;
  /** The list to apply; the driver's own by default. */
  migrations?: readonly Migration[];
}

/**
 * Migrations run at open only and may legitimately take long — DDL over a big table, or waiting
 * on the lock while another server migrates — so they get a bound of their own instead of the
 * pool's short query timeout.
 */
const MIGRATION_QUERY_TIMEOUT_MS = 300_000;

/**
 * Brings `schema` up to date. Safe when several servers start at once: they queue on an
 * advisory lock keyed by the schema's name, and each re-reads the version once it holds the
 * lock, so every migration runs exactly once. Each migration runs in its own transaction with
 * the row that records it, so a crash leaves the schema at a version, never between two.
 */
export async function migrate(pool: pg.Pool, schema: string, options: MigrateOptions = {}): Promise<MigrationReport> {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const target = options.target ?? latest;
  const s = quoteIdentifier(schema);

  // The common case — every server after the first — costs one query and takes no lock.
  const seen = await readVersion(pool, s);
  if (seen !== null) refuseNewer(seen, latest, schema);
  if (seen !== null && seen >= target) return { from: seen, to: seen, applied: [] };

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStorageError(error, 'connect to migrate');
  }
  let broken: unknown;
  const run = (text: string, values?: unknown[]) =>
    client.query({ text, ...(values ? { values } : {}), query_timeout: MIGRATION_QUERY_TIMEOUT_MS } as pg.QueryConfig);
  try {
    await run('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`posthorn migrations ${schema}`]);
    try {
      await run(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await run(
        `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
           version integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const from = (await readVersion(client, s)) ?? 0;
      refuseNewer(from, latest, schema);
      const applied: number[] = [];
      for (const migration of migrations) {
        if (migration.version <= from || migration.version > target) continue;
        await run('BEGIN');
        try {
          await run(migration.sql(s));
          await run(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await run('COMMIT');
        } catch (error) {
          await run('ROLLBACK').catch(() => {});
          throw error;
        }
        applied.push(migration.version);
      }
      return { from, to: applied[applied.length - 1] ?? from, applied };
    } finally {
      await run('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`posthorn migrations ${schema}`]).catch(
        () => {},
      ); // a broken connection has released it already
    }
  } catch (error) {
    broken = error;
    throw toStorageError(error, `migrate schema ${schema}`);
  } finally {
    // A client that failed mid-way may still hold the lock or a transaction: drop it.
    client.release(broken === undefined ? undefined : (broken as Error));
  }
}

/** The schema's version, or null when it has no migrations table yet. */
export async function readVersion(runner: pg.Pool | pg.PoolClient, quotedSchema: string): Promise<number | null> {
  try {
    const result = await runner.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${quotedSchema}.schema_migrations`,
    );
    return result.rows[0]?.version ?? 0;
  } catch (error) {
    // 42P01: no such table; 3F000: no such schema.
    const state = sqlState(error);
    if (state === '42P01' || state === '3F000') return null;
    throw toStorageError(error, 'read the schema version');
  }
}

function refuseNewer(version: number, latest: number, schema: string): void {
  if (version > latest) {
    throw new StorageMisconfiguredError(
      `schema ${schema} is at version ${version}, newer than this Posthorn knows (${latest}); upgrade Posthorn`,
    );
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** True for schema names the driver accepts: lowercase letters, digits and '_', at most 63. */
export function isSchemaName(name: string): boolean {
  return IDENTIFIER.test(name);
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export { LATEST_SCHEMA_VERSION };
