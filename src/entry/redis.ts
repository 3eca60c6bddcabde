/**
 * `posthorn/redis`: the store over Redis 7, standalone or Cluster. Needs the `ioredis` package
 * (installed with Posthorn unless optional dependencies were left out).
 */

export type { RedisDriverOptions, RedisLocation, RedisNode, RedisUriOptions } from '../store/redis/index.js';
export { createRedisDriver, parseRedisUri } from '../store/redis/index.js';
export type * from './shared-types.js';
