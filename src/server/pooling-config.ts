import { InvalidArgumentError } from '../core/index.js';
import { type InitialPool, MAX_POOL_WEIGHT, type PoolingSettings, parsePoolUri } from '../pool/index.js';
import { fail, flag, type Setting, type SettingSources, section } from './config-values.js';

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

function seconds(setting: Setting, fallback: number): number {
  const { value } = setting;
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 3600) {
    fail(setting, `must be a number of seconds from 0 to 3600, not ${JSON.stringify(value)}`);
  }
  return n;
}

function name(setting: Setting): string {
  const { value } = setting;
  if (typeof value !== 'string' || !/^[a-zA-Z0-9_\-.]{1,64}$/.test(value)) {
    fail(setting, `must be 1 to 64 letters, digits, "_", "-" and ".", not ${JSON.stringify(value)}`);
  }
  return value;
}

function uri(setting: Setting): string {
  try {
    parsePoolUri(setting.value);
  } catch (error) {
    // parsePoolUri names its argument `uri`; here the setting is named instead.
    const reason =
      error instanceof InvalidArgumentError && error.field === 'uri' ? error.reason : (error as Error).message;
    fail(setting, `is not a pool URI Posthorn can use: ${reason}`, { cause: error });
  }
  return setting.value as string;
}

/**
 * Reads `[pooling]` and `[admin]` (with their environment variables); null pooling means off.
 * Environment variables win over the file's values.
 */
export function readPoolingConfig(
  poolingDoc: unknown,
  adminDoc: unknown,
  sources: SettingSources,
): { pooling: PoolingConfig | null; adminToken: string | null } {
  const doc = section(sources.fromFile('pooling', poolingDoc), POOLING_KEYS);
  const admin = section(sources.fromFile('admin', adminDoc), ADMIN_KEYS);
  const setting = (key: string, env?: string) =>
    sources.pick(`pooling.${key}`, doc[key], env === undefined ? {} : { env });

  const token = sources.pick('admin.token', admin.token, { env: 'POSTHORN_ADMIN_TOKEN' });
  if (token.value !== undefined && (typeof token.value !== 'string' || token.value.length < 16)) {
    fail(token, 'must be a string of at least 16 characters');
  }
  const adminToken = (token.value as string | undefined) ?? null;

  const enabled = sources.pick('pooling.enabled', doc.enabled, {
    env: 'POSTHORN_POOLING',
    fallback: poolingDoc !== undefined,
  });
  if (!flag(enabled)) return { pooling: null, adminToken };

  const catalog = setting('catalog', 'POSTHORN_POOLING_CATALOG');
  const defaultPool = setting('default_pool', 'POSTHORN_POOLING_DEFAULT_POOL');
  const pools: InitialPool[] = [];
  if (doc.pools !== undefined) {
    if (!Array.isArray(doc.pools)) {
      fail(setting('pools'), 'must be a list of pools ([[pooling.pools]] in TOML)');
    }
    const names = new Set<string>();
    for (const [i, entry] of (doc.pools as unknown[]).entries()) {
      const key = `pooling.pools[${i}]`;
      const pool = section(sources.fromFile(key, entry), POOL_KEYS);
      const field = (k: string) => sources.fromFile(`${key}.${k}`, pool[k]);
      const poolName = name(field('name'));
      if (names.has(poolName)) fail(field('name'), `names pool ${poolName} a second time`);
      names.add(poolName);
      const weight = pool.weight ?? 100;
      if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_POOL_WEIGHT) {
        fail(field('weight'), `must be a whole number from 0 to ${MAX_POOL_WEIGHT}, not ${JSON.stringify(weight)}`);
      }
      pools.push({
        name: poolName,
        uri: uri(field('uri')),
        weight,
        flavor: pool.flavor === undefined ? null : name(field('flavor')),
      });
    }
  }
  return {
    pooling: {
      catalog: catalog.value === undefined ? null : uri(catalog),
      defaultPool: defaultPool.value === undefined ? null : name(defaultPool),
      cacheSeconds: seconds(setting('cache_seconds', 'POSTHORN_POOLING_CACHE_SECONDS'), 2),
      settleSeconds: seconds(setting('settle_seconds', 'POSTHORN_POOLING_SETTLE_SECONDS'), 5),
      pools,
    },
    adminToken,
  };
}
