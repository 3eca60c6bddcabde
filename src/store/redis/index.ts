import {
  type Clock,
  InvalidArgumentError,
  type Limits,
  type Logger,
  makeLimits,
  stderrLogger,
  systemClock,
} from '../../core/index.js';
import { createDataDriver, type DataDriver, type StoreObserver } from '../contract/index.js';
import { KeyLayout } from './key-layout.js';
import { inspectServers, RedisConnection } from './redis-connection.js';
import { RedisEngine } from './redis-engine.js';
import { parseRedisUri, type RedisLocation, type RedisNode } from './redis-uri.js';

export interface RedisDriverOptions {
  /** `redis://host:port[/db]`, `rediss://…`, or `redis+cluster://host:port,host:port` (see parseRedisUri). */
  url?: string;
  /** The seed nodes of a Redis Cluster, instead of a url. */
  nodes?: (RedisNode | string)[];
  clock?: Clock;
  limits?: Partial<Limits>;
  /** Put in front of every key (default `ph:`), so several stores can share one Redis. No braces. */
  keyPrefix?: string;
  /** Told why DURABILITY is not declared and what could not be checked (default: JSON lines on stderr). */
  logger?: Logger;
  /**
   * Longest one call may wait on Redis before it fails with StorageUnavailableError (default
   * 5000; a URI's `?command_timeout=`). Behind a partition no answer and no error come, so this
   * is what turns a hang into a prompt 503.
   */
  commandTimeoutMs?: number;
  /** Longest the first connection may take (default 5000; a URI's `?connect_timeout=`, in seconds). */
  connectTimeoutMs?: number;
  /** Told how long each round trip to Redis took, of dead-letter moves and of what gc expired (the server's metrics). */
  observer?: StoreObserver;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'ph:';
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5_000;
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 5_000;

/**
 * A store over Redis 7 (one server or a Redis Cluster). Capabilities are FIFO, CLAIMS, AOD and
 * HIGH_THROUGHPUT, plus DURABILITY when every master runs `appendonly yes` with `appendfsync
 * always`; a Redis that may evict keys is refused with StorageMisconfiguredError, an unreachable
 * one with StorageUnavailableError.
 */
export async function createRedisDriver(options: RedisDriverOptions): Promise<DataDriver> {
  const limits = makeLimits(options.limits);
  const location = locate(options);
  const keys = new KeyLayout(options.keyPrefix ?? location.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX);
  const logger = options.logger ?? stderrLogger;
  const connection = await RedisConnection.open(location, {
    commandTimeoutMs: positive(
      options.commandTimeoutMs ?? location.commandTimeoutMs,
      'commandTimeoutMs',
      DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    ),
    connectTimeoutMs: positive(
      options.connectTimeoutMs ?? location.connectTimeoutMs,
      'connectTimeoutMs',
      DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
    ),
    observer: options.observer,
  });
  try {
    const report = await inspectServers(connection);
    for (const w of report.warnings) logger.warn({ store: 'redis', node: w.node }, w.message);
    return createDataDriver(
      new RedisEngine(connection, keys, options.clock ?? systemClock, report.capabilities, options.observer ?? null),
      limits,
    );
  } catch (error) {
    await connection.close();
    throw error;
  }
}

function locate(options: RedisDriverOptions): RedisLocation {
  if (options.url !== undefined && options.nodes !== undefined) {
    throw new InvalidArgumentError('nodes', 'give either url or nodes, not both');
  }
  if (options.nodes !== undefined) {
    if (!Array.isArray(options.nodes) || options.nodes.length === 0) {
      throw new InvalidArgumentError('nodes', 'must list at least one cluster node');
    }
    const nodes = options.nodes.map((node, i) => {
      if (typeof node === 'string') {
        const parsed = parseRedisUri(`redis+cluster://${node}`, `nodes[${i}]`);
        return (parsed as Extract<RedisLocation, { mode: 'cluster' }>).nodes[0] as RedisNode;
      }
      if (typeof node?.host !== 'string' || !Number.isInteger(node.port) || node.port < 1 || node.port > 65_535) {
        throw new InvalidArgumentError(`nodes[${i}]`, 'must be "host:port" or { host, port }');
      }
      return node;
    });
    return { mode: 'cluster', nodes, tls: false };
  }
  if (options.url === undefined) throw new InvalidArgumentError('url', 'give a url or cluster nodes');
  return parseRedisUri(options.url, 'url');
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(field, 'must be a positive integer');
  return value;
}

export { KeyLayout } from './key-layout.js';
export { parseRedisUri, type RedisLocation, type RedisNode, type RedisUriOptions } from './redis-uri.js';
