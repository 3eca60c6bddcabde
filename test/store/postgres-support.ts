import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { after, test } from 'node:test';
import pg from 'pg';
import type { DataDriver } from '../../src/store/contract/index.js';
import { parsePostgresUri } from '../../src/store/postgres/index.js';

/**
 * What the PostgreSQL tests share: where the server is, a schema of their own for each run
 * (dropped after), and the rule for a server that is not there — say so in one line and skip,
 * except under CI=true, where a missing server is a failure.
 */

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

/** Connection settings for the tests' own clients, with libpq's default user as the driver has it. */
function clientConfig(): pg.ClientConfig {
  const { pool } = parsePostgresUri(DATABASE_URL);
  const user = pool.user || process.env.PGUSER || process.env.USER || userInfo().username;
  return { ...pool, user, connectionTimeoutMillis: 5000 };
}

/** Null when the server answers, else why not. */
export async function probePostgres(): Promise<string | null> {
  const client = new pg.Client(clientConfig());
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || String(error) : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Like probePostgres, but rides through a short restart of the shared server (an older
 * postgres-restart test, or an operator, may stop it for a second or two): a refused connection is retried for 4 s, a
 * server still starting up for 20 s.
 */
async function probePatiently(): Promise<string | null> {
  const started = Date.now();
  for (;;) {
    const problem = await probePostgres();
    if (problem === null) return null;
    const starting = /starting up|not yet accepting|shutting down/.test(problem);
    if (Date.now() - started > (starting ? 20_000 : 4_000)) return problem;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Registers the suite `register` when PostgreSQL answers; otherwise one skipped test, whose
 * line in the report says why — or, under CI=true, one failing test.
 */
export async function withPostgres(title: string, register: () => void): Promise<void> {
  const problem = await probePatiently();
  if (problem === null) {
    register();
    return;
  }
  const reason = `PostgreSQL at ${DATABASE_URL} is not reachable (${problem})`;
  if (process.env.CI === 'true') {
    test(title, () => {
      throw new Error(`${reason}; CI=true requires it`);
    });
  } else {
    test(title, { skip: reason }, () => {});
  }
}

/** A schema name no other run uses. */
export function freshSchema(tag: string): string {
  return `ph_test_${tag}_${randomBytes(5).toString('hex')}`;
}

/** Runs one statement on a connection of its own. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client(clientConfig());
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * For a suite that opens drivers on `schema`: `track` records each driver opened, and when the
 * suite ends they are all closed and the schema dropped. Call it inside the suite's describe.
 */
export function trackDrivers(schema: string): (opening: Promise<DataDriver>) => Promise<DataDriver> {
  const drivers: DataDriver[] = [];
  after(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    await dropSchema(schema);
  });
  return async (opening) => {
    const driver = await opening;
    drivers.push(driver);
    return driver;
  };
}
