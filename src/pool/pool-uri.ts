import { isAbsolute } from 'node:path';
import {
  type Clock,
  InvalidArgumentError,
  type Limits,
  type Logger,
  StorageMisconfiguredError,
} from '../core/index.js';
import type { DataDriver, StoreObserver } from '../store/contract/index.js';
import { createDiskDriver } from '../store/disk/index.js';
import { createMemoryDriver } from '../store/memory/index.js';
// Only the URI parsers here: the drivers (and ioredis or pg with them) load when a pool of their
// kind is first opened, so a server without such pools never loads them.
import { parsePostgresUri } from '../store/postgres/pool-uri.js';
import { parseRedisUri } from '../store/redis/redis-uri.js';

/** What kind of store a pool URI names. */
export type PoolKind = 'disk' | 'memory' | 'redis' | 'postgres';

export interface PoolLocation {
  kind: PoolKind;
  uri: string;
  /** The disk store's folder, for `disk:` URIs. */
  dir?: string;
  /** True when several processes can share the pool (Redis, PostgreSQL). */
  shared: boolean;
}

/** Longest pool URI kept (Zaqar's schema allows 255 characters). */
export const MAX_POOL_URI_LENGTH = 255;

/**
 * Parses a pool URI, refusing anything malformed with InvalidArgumentError (field `uri`):
 *
 *   disk:///absolute/folder                       the embedded disk store in that folder (one process)
 *   memory://                                     a store in this process's memory (trials, tests)
 *   redis://host:port[/db][?prefix=…]             Redis (rediss:// for TLS)
 *   redis+cluster://host:port,host:port[?prefix=…] a Redis Cluster
 *   postgres://user:pass@host:port/db[?schema=…]  PostgreSQL (postgresql:// too)
 *
 * Nothing is connected here; openPoolDriver does that.
 */
export function parsePoolUri(uri: unknown): PoolLocation {
  if (typeof uri !== 'string' || uri.length === 0) throw new InvalidArgumentError('uri', 'must be a non-empty string');
  if (uri.length > MAX_POOL_URI_LENGTH) {
    throw new InvalidArgumentError('uri', `must be at most ${MAX_POOL_URI_LENGTH} characters`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'disk': {
      const match = /^disk:\/\/(\/[^?#]*)$/i.exec(uri);
      let dir: string | undefined;
      try {
        dir = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
      } catch {
        dir = undefined;
      }
      if (dir === undefined || !isAbsolute(dir) || dir === '/') {
        throw new InvalidArgumentError(
          'uri',
          'a disk pool must name an absolute folder: disk:///var/lib/posthorn/pool1',
        );
      }
      return { kind: 'disk', uri, dir, shared: false };
    }
    case 'memory':
      if (!/^memory:(\/\/)?$/i.test(uri)) throw new InvalidArgumentError('uri', 'a memory pool is just memory://');
      return { kind: 'memory', uri, shared: false };
    case 'redis':
    case 'rediss':
    case 'redis+cluster':
    case 'rediss+cluster':
      parseRedisUri(uri, 'uri');
      return { kind: 'redis', uri, shared: true };
    case 'postgres':
    case 'postgresql':
      parsePostgresUri(uri);
      return { kind: 'postgres', uri, shared: true };
    default:
      throw new InvalidArgumentError(
        'uri',
        'must start with disk://, memory://, redis://, rediss://, redis+cluster://, postgres:// or postgresql://',
      );
  }
}

export interface OpenPoolOptions {
  limits: Limits;
  clock?: Clock;
  logger?: Logger;
  /** Told of the pool's commits, round trips, dead letters and expiries (the server's metrics). */
  observer?: StoreObserver;
}

/**
 * Opens the store a pool URI names. An unreachable server is a StorageUnavailableError and a
 * misconfigured one a StorageMisconfiguredError, as the drivers say; a malformed URI is an
 * InvalidArgumentError before anything is tried.
 */
export async function openPoolDriver(uri: string, options: OpenPoolOptions): Promise<DataDriver> {
  const location = parsePoolUri(uri);
  const common = {
    limits: options.limits,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  };
  switch (location.kind) {
    case 'disk':
      return createDiskDriver({
        dir: location.dir as string,
        ...common,
        ...(options.logger ? { logger: options.logger } : {}),
      });
    case 'memory':
      return createMemoryDriver(common);
    case 'redis': {
      const { createRedisDriver } = await loadDriver('redis', 'ioredis', () => import('../store/redis/index.js'));
      return createRedisDriver({ url: uri, ...common, ...(options.logger ? { logger: options.logger } : {}) });
    }
    case 'postgres': {
      const logger = options.logger;
      const { createPostgresDriver } = await loadDriver('postgres', 'pg', () => import('../store/postgres/index.js'));
      return createPostgresDriver({
        url: uri,
        ...common,
        ...(logger ? { logger: { warn: (message: string) => logger.warn({ store: 'postgres' }, message) } } : {}),
      });
    }
  }
}

/**
 * Loads a driver's module; when the package it needs is not installed (Posthorn installed without
 * its optional dependencies), says which one to install instead of Node's bare module error.
 */
async function loadDriver<T>(kind: string, needs: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${needs}'`)) {
      throw new StorageMisconfiguredError(`a ${kind} pool needs the ${needs} package: npm install ${needs}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** The URI with any password replaced by `***`, for logs and answers that should not show it. */
export function redactPoolUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*:)[^@/?#]*@/i, '$1***@');
}
