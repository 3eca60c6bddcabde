import { InvalidArgumentError } from '../../core/index.js';

export interface RedisNode {
  host: string;
  port: number;
}

/** What a Redis pool URI's query may say besides where it is. */
export interface RedisUriOptions {
  keyPrefix?: string;
  /** `?command_timeout=` (milliseconds). */
  commandTimeoutMs?: number;
  /** `?connect_timeout=` (seconds, as in PostgreSQL URIs). */
  connectTimeoutMs?: number;
}

/** Where a Redis pool lives, as a pool URI names it. */
export type RedisLocation = RedisUriOptions &
  (
    | {
        mode: 'standalone';
        host: string;
        port: number;
        db: number;
        tls: boolean;
        username?: string;
        password?: string;
      }
    | { mode: 'cluster'; nodes: RedisNode[]; tls: boolean; username?: string; password?: string }
  );

const DEFAULT_PORT = 6379;
/** Query parameters a Redis pool URI may carry; anything else is refused so typos do not pass silently. */
export const REDIS_URI_PARAMETERS = ['prefix', 'command_timeout', 'connect_timeout'] as const;
const QUERY_KEYS = new Set<string>(REDIS_URI_PARAMETERS);

/**
 * Parses a Redis pool URI:
 *
 *   redis://[user[:password]@]host[:port][/db][?prefix=...]        one server (rediss:// for TLS)
 *   redis+cluster://[user[:password]@]host:port,host:port[?prefix=...]   a Redis Cluster's seed nodes
 *
 * `prefix` puts this pool's keys under their own prefix, so several pools can share one Redis;
 * `command_timeout` (ms) and `connect_timeout` (s) bound how long a call waits on Redis.
 * Anything else is refused with InvalidArgumentError naming `field`.
 */
export function parseRedisUri(uri: string, field = 'uri'): RedisLocation {
  if (typeof uri !== 'string' || uri.length === 0) throw new InvalidArgumentError(field, 'must be a non-empty string');
  const match =
    /^(redis|rediss|redis\+cluster|rediss\+cluster):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!match) {
    throw new InvalidArgumentError(
      field,
      'must look like redis://host:port[/db] or redis+cluster://host:port,host:port',
    );
  }
  const [, scheme = '', auth, hostPart = '', path, query] = match;
  const tls = scheme.startsWith('rediss');
  const credentials = parseAuth(auth, field);
  const extras = { ...credentials, ...parseQuery(query, field) };
  if (scheme.endsWith('+cluster')) {
    if (path !== undefined && path !== '' && path !== '/') {
      throw new InvalidArgumentError(field, 'a Redis Cluster has only database 0: leave the path out');
    }
    const nodes = hostPart.split(',').map((part) => parseHostPort(part, field, false));
    if (nodes.length === 0) throw new InvalidArgumentError(field, 'names no cluster node');
    return { mode: 'cluster', nodes, tls, ...extras };
  }
  if (hostPart.includes(',')) {
    throw new InvalidArgumentError(field, 'names several hosts: use redis+cluster:// for a Redis Cluster');
  }
  const { host, port } = parseHostPort(hostPart, field, true);
  let db = 0;
  if (path !== undefined && path !== '' && path !== '/') {
    const text = path.slice(1);
    if (!/^\d{1,5}$/.test(text)) throw new InvalidArgumentError(field, `has a database "${text}" that is not a number`);
    db = Number(text);
  }
  return { mode: 'standalone', host, port, db, tls, ...extras };
}

function parseHostPort(text: string, field: string, portOptional: boolean): RedisNode {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new InvalidArgumentError(field, `has a host "${text}" that is not host:port`);
  const host = (m[1] ?? m[2]) as string;
  if (m[3] === undefined && !portOptional) {
    throw new InvalidArgumentError(field, `names cluster node "${text}" without its port`);
  }
  const port = m[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (port < 1 || port > 65_535) throw new InvalidArgumentError(field, `has a port ${port} out of range`);
  return { host, port };
}

function parseAuth(auth: string | undefined, field: string): { username?: string; password?: string } {
  if (auth === undefined || auth === '') return {};
  const colon = auth.indexOf(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InvalidArgumentError(field, 'has credentials with a broken %-escape');
    }
  };
  const username = decode(colon < 0 ? auth : auth.slice(0, colon));
  const password = colon < 0 ? undefined : decode(auth.slice(colon + 1));
  return { ...(username === '' ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

function parseQuery(query: string | undefined, field: string): RedisUriOptions {
  if (query === undefined || query === '?') return {};
  const params = new URLSearchParams(query.slice(1));
  const options: RedisUriOptions = {};
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (!QUERY_KEYS.has(key)) {
      throw new InvalidArgumentError(
        field,
        `has an unknown option "${key}" (known: ${REDIS_URI_PARAMETERS.join(', ')})`,
      );
    }
    if (seen.has(key)) throw new InvalidArgumentError(field, `repeats the option "${key}"`);
    seen.add(key);
    switch (key) {
      case 'prefix':
        if (/[{}]/.test(value)) throw new InvalidArgumentError(field, 'has a prefix with "{" or "}"');
        options.keyPrefix = value;
        break;
      case 'command_timeout':
        options.commandTimeoutMs = positiveInteger(key, value, field);
        break;
      case 'connect_timeout':
        options.connectTimeoutMs = 1000 * positiveInteger(key, value, field);
        break;
    }
  }
  return options;
}

function positiveInteger(key: string, value: string, field: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError(field, `has ${key}=${JSON.stringify(value)}, not a positive integer`);
  }
  return Number(value);
}
