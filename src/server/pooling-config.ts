import { type InitialPool, MAX_POOL_WEIGHT, type PoolingSettings, parsePoolUri } from '../pool/index.js';
import { fail, flag, fromEnv, section } from './config-values.js';

/**
 * The pooling and admin settings of `posthorn serve` (read by config.ts):
 *
 *   [pooling]                  # present: pooling is on (POSTHORN_POOLING=true|false overrides)
 *   catalog = "postgres://…"   # POSTHORN_POOLING_CATALOG: the management store several servers share
 *                              # (redis://, redis+cluster://, postgres://); default: the embedded store
 *   default_pool = "pg1"       # POSTHORN_POOLING_DEFAULT_POOL: a pool taking every new queue of no flavor
 *   cache_seconds = 2          # how long a server trusts a catalogue entry before reading it again
 *   settle_seconds = 5         # longest a storage call takes to land; a queue move waits cache + settle
 *   [[pooling.pools]]          # pools registered at start when the catalogue lacks them
 *   name = "redis1"
 *   uri = "redis://127.0.0.1:6379/0?prefix=pool1:"
 *   weight = 100
 *   flavor = "fast"            # optional
 *
 *   [admin]
 *   token = "…"                # POSTHORN_ADMIN_TOKEN: admin requests carry it in X-Admin-Token
 */
export interface PoolingConfig extends PoolingSettings {}

export const POOLING_KEYS = new Set(['enabled', 'catalog', 'default_pool', 'cache_seconds', 'settle_seconds', 'pools']);
export const POOL_KEYS = new Set(['name', 'uri', 'weight', 'flavor']);
export const ADMIN_KEYS = new Set(['token']);

function seconds(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 3600) {
    fail(field, `must be a number of seconds from 0 to 3600, not ${JSON.stringify(value)}`);
  }
  return n;
}

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[a-zA-Z0-9_\-.]{1,64}$/.test(value)) {
    fail(field, 'must be 1 to 64 letters, digits, "_", "-" and "."');
  }
  return value;
}

function uri(value: unknown, field: string): string {
  try {
    parsePoolUri(value);
  } catch (error) {
    fail(field, (error as Error).message);
  }
  return value as string;
}

/**
 * Reads `[pooling]` and `[admin]` (with their environment variables); null pooling means off.
 * `env` values win over the file's.
 */
export function readPoolingConfig(
  poolingDoc: unknown,
  adminDoc: unknown,
  env: NodeJS.ProcessEnv,
): { pooling: PoolingConfig | null; adminToken: string | null } {
  const doc = section(poolingDoc, 'pooling', POOLING_KEYS);
  const admin = section(adminDoc, 'admin', ADMIN_KEYS);
  const setting = (name: string) => fromEnv(env, name);

  const tokenSetting = setting('POSTHORN_ADMIN_TOKEN') ?? admin.token;
  if (tokenSetting !== undefined && (typeof tokenSetting !== 'string' || tokenSetting.length < 16)) {
    fail('admin.token', 'must be a string of at least 16 characters');
  }
  const adminToken = (tokenSetting as string | undefined) ?? null;

  const enabledSetting = setting('POSTHORN_POOLING') ?? doc.enabled ?? poolingDoc !== undefined;
  if (!flag(enabledSetting, 'pooling.enabled')) return { pooling: null, adminToken };

  const catalogSetting = setting('POSTHORN_POOLING_CATALOG') ?? doc.catalog;
  const defaultPool = setting('POSTHORN_POOLING_DEFAULT_POOL') ?? doc.default_pool;
  const pools: InitialPool[] = [];
  if (doc.pools !== undefined) {
    if (!Array.isArray(doc.pools)) fail('pooling.pools', 'must be a list of pools ([[pooling.pools]] in TOML)');
    const names = new Set<string>();
    for (const [i, entry] of (doc.pools as unknown[]).entries()) {
      const field = `pooling.pools[${i}]`;
      const pool = section(entry, field, POOL_KEYS);
      const poolName = name(pool.name, `${field}.name`);
      if (names.has(poolName)) fail(`${field}.name`, `names pool ${poolName} a second time`);
      names.add(poolName);
      const weight = pool.weight ?? 100;
      if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_POOL_WEIGHT) {
        fail(`${field}.weight`, `must be an integer from 0 to ${MAX_POOL_WEIGHT}`);
      }
      pools.push({
        name: poolName,
        uri: uri(pool.uri, `${field}.uri`),
        weight,
        flavor: pool.flavor === undefined ? null : name(pool.flavor, `${field}.flavor`),
      });
    }
  }
  return {
    pooling: {
      catalog: catalogSetting === undefined ? null : uri(catalogSetting, 'pooling.catalog'),
      defaultPool: defaultPool === undefined ? null : name(defaultPool, 'pooling.default_pool'),
      cacheSeconds: seconds(setting('POSTHORN_POOLING_CACHE_SECONDS') ?? doc.cache_seconds, 'pooling.cache_seconds', 2),
      settleSeconds: seconds(
        setting('POSTHORN_POOLING_SETTLE_SECONDS') ?? doc.settle_seconds,
        'pooling.settle_seconds',
        5,
      ),
      pools,
    },
    adminToken,
  };
}
