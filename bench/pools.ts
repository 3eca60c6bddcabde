/**
 * The Redis and PostgreSQL pools the benchmarks measure: where the shared servers are, a fresh
 * namespace on them for each run (a key prefix, a schema), and its removal after.
 *
 *   REDIS_URL     the shared Redis (default redis://127.0.0.1:6379)
 *   DATABASE_URL  the shared PostgreSQL (default postgres://127.0.0.1:5432/test)
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

// libpq's default user is the operating system's; node-postgres reads only $PGUSER and $USER,
// which services and containers often lack (the benchmarks' own connections go through it).
if (!process.env.PGUSER && !process.env.USER) process.env.PGUSER = userInfo().username;

/** Removes every key under `prefix` (SCAN and UNLINK; never FLUSHALL: the server is shared). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export interface BenchPool {
  /** A pool URI (as `posthorn serve` and the catalog take them) over a namespace of its own. */
  uri: string;
  /** The key prefix (Redis) or schema (PostgreSQL) of that namespace. */
  namespace: string;
  /** Removes the namespace and everything in it. */
  dispose(): Promise<void>;
}

/** A fresh namespace on the shared server of `kind`: 'redis' or 'postgres'. */
export function benchPool(kind: 'redis' | 'postgres'): BenchPool {
  const tag = randomBytes(4).toString('hex');
  if (kind === 'redis') {
    const prefix = `phbench-${tag}:`;
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    return { uri: url.toString(), namespace: prefix, dispose: () => deleteRedisKeys(REDIS_URL, prefix) };
  }
  const schema = `ph_bench_${tag}`;
  const url = new URL(DATABASE_URL);
  url.searchParams.set('schema', schema);
  return { uri: url.toString(), namespace: schema, dispose: () => dropSchema(schema) };
}
