import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { DEFAULT_LIMITS, InvalidArgumentError, type Limits, makeLimits } from '../core/index.js';
import { type ClientIdPolicy, DEFAULT_CLIENT_ID_POLICY, DEFAULT_SUBSCRIBER_TYPES } from '../service/index.js';
import { fail, flag, fromEnv, section, text, whole } from './config-values.js';
import {
  NOTIFICATION_KEYS,
  type NotificationConfig,
  readNotificationConfig,
  readWebSocketConfig,
  WEBSOCKET_KEYS,
  type WebSocketConfig,
} from './notification-config.js';
import { ADMIN_KEYS, POOL_KEYS, POOLING_KEYS, type PoolingConfig, readPoolingConfig } from './pooling-config.js';

/**
 * The configuration of `posthorn serve`. Every setting has a default; a config file
 * (posthorn.toml, or posthorn.json) overrides defaults, environment variables override the file,
 * and command-line flags override everything. Unknown settings are refused, so a typo is an error
 * at start rather than a setting silently ignored.
 *
 * The file (TOML shown; JSON has the same keys and tables):
 *
 *   host = "127.0.0.1"         # POSTHORN_HOST, --host
 *   port = 8888                # POSTHORN_PORT, --port (0: any free port)
 *   ws_port = 9000             # POSTHORN_WS_PORT, --ws-port (the WebSocket API's port)
 *   data = "./data"            # POSTHORN_DATA, --data; relative to the file's folder when set here
 *   store = "disk"             # POSTHORN_STORE, --store: "disk" (durable, the default) or "memory"
 *   log_level = "info"         # POSTHORN_LOG_LEVEL, --log-level: trace, debug, info, warn, error, fatal, silent
 *   log_requests = true        # POSTHORN_LOG_REQUESTS: one info line per request (never bodies or tokens)
 *   enable_checksum = false    # POSTHORN_ENABLE_CHECKSUM: stamp messages with "MD5:<hex>" checksums
 *
 *   [transport]                # Zaqar's [transport] options
 *   client_id_uuid_safe = "strict"   # POSTHORN_CLIENT_ID_UUID_SAFE: "strict" (UUIDs) or "off" (free text)
 *   min_length_client_id = 10
 *   max_length_client_id = 36
 *   subscriber_types = ["http", "https", "mailto", "trust+http", "trust+https"]
 *
 *   [signed_url]
 *   secret_key = "..."         # POSTHORN_SIGNED_URL_SECRET_KEY; without it pre-signed URLs are refused
 *
 *   [pooling] and [admin]      # storage pools and the admin API: see pooling-config.ts
 *
 *   [notification]             # subscriptions that deliver (webhooks, mail): see notification-config.ts
 *   spool_dir = "notifications"        # relative to `data`; require_confirmation, webhook_timeout,
 *                                      # max_subscriptions_per_queue, smtp_host, smtp_port, smtp_from...
 *   [websocket]                # the WebSocket API: max_frame_size, http_path (/v2/ws), notification_url
 *
 *   [limits]                   # any limit of the limits table, in snake_case, e.g.:
 *   max_messages_post_size = 262144
 *   max_messages_per_page = 20
 *   default_message_ttl = 3600
 */
export interface ServerConfig {
  host: string;
  port: number;
  wsPort: number;
  /** The embedded store's folder (absolute). */
  data: string;
  store: 'disk' | 'memory';
  logLevel: string;
  /** One info line per request: method, route, status, duration, project. */
  logRequests: boolean;
  enableChecksum: boolean;
  clientIds: ClientIdPolicy;
  subscriberTypes: string[];
  signedUrlSecret: string | null;
  limits: Limits;
  /** Storage pools (null: off, one embedded store as before). */
  pooling: PoolingConfig | null;
  /** What admin requests carry in X-Admin-Token; null: the admin API refuses every request. */
  adminToken: string | null;
  /** Subscription notifications: their spool folder, confirmation, timeouts, limits, SMTP relay. */
  notification: NotificationConfig;
  websocket: WebSocketConfig;
  /** The file the configuration was read from, if any. */
  file: string | null;
}

/** The command-line flags that override the configuration. */
export interface ServeFlags {
  config?: string;
  host?: string;
  port?: string | number;
  data?: string;
  wsPort?: string | number;
  store?: string;
  logLevel?: string;
}

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
const TOP_KEYS = new Set([
  'host',
  'port',
  'ws_port',
  'data',
  'store',
  'log_level',
  'log_requests',
  'enable_checksum',
  'transport',
  'signed_url',
  'limits',
  'pooling',
  'admin',
  'notification',
  'websocket',
]);
const SIGNED_URL_KEYS = new Set(['secret_key']);
const TRANSPORT_KEYS = new Set([
  'client_id_uuid_safe',
  'min_length_client_id',
  'max_length_client_id',
  'subscriber_types',
]);

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const LIMIT_KEYS = new Map<string, keyof Limits>(
  (Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]).map((key) => [snake(key), key]),
);

function port(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65_535) {
    fail(field, `must be a port number (0 to 65535), not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Every setting a configuration file may hold, as `key` or `table.key` (`pooling.pools.key` for
 * the keys of each pool), for posthorn.example.toml's test to check that it shows them all.
 */
export function knownSettings(): string[] {
  const tables: [string, Iterable<string>][] = [
    ['transport', TRANSPORT_KEYS],
    ['signed_url', SIGNED_URL_KEYS],
    ['limits', LIMIT_KEYS.keys()],
    ['notification', NOTIFICATION_KEYS],
    ['websocket', WEBSOCKET_KEYS],
    ['admin', ADMIN_KEYS],
    ['pooling', [...POOLING_KEYS].filter((k) => k !== 'pools')],
    ['pooling.pools', POOL_KEYS],
  ];
  const tableNames = new Set(tables.map(([t]) => t.split('.')[0]));
  return [
    ...[...TOP_KEYS].filter((k) => !tableNames.has(k)),
    ...tables.flatMap(([table, keys]) => [...keys].map((k) => `${table}.${k}`)),
  ];
}

/** Reads a config file (TOML unless its name ends in .json). */
export function readConfigFile(path: string): Record<string, unknown> {
  const source = readFileSync(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(source) : parseToml(source);
  } catch (error) {
    throw new InvalidArgumentError(`config file ${path}`, (error as Error).message, { cause: error });
  }
  return section(parsed, path, TOP_KEYS);
}

/** The file to read: the flag, else $POSTHORN_CONFIG, else ./posthorn.toml or ./posthorn.json when present. */
export function findConfigFile(flags: ServeFlags, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const named = flags.config ?? env.POSTHORN_CONFIG;
  if (named !== undefined && named !== '') {
    const path = resolve(cwd, named);
    if (!existsSync(path)) fail('file', `${path} does not exist`);
    return path;
  }
  for (const name of ['posthorn.toml', 'posthorn.json']) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Defaults, then the file, then environment variables, then flags. */
export function loadServerConfig(
  options: { flags?: ServeFlags; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ServerConfig {
  const flags = options.flags ?? {};
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = findConfigFile(flags, env, cwd);
  const doc = file === null ? {} : readConfigFile(file);
  const fileDir = file === null ? cwd : dirname(file);

  const transport = section(doc.transport, 'transport', TRANSPORT_KEYS);
  const signedUrl = section(doc.signed_url, 'signed_url', SIGNED_URL_KEYS);
  const limitsDoc = section(doc.limits, 'limits', LIMIT_KEYS);

  const limitOverrides: Partial<Limits> = {};
  for (const [key, value] of Object.entries(limitsDoc)) {
    limitOverrides[LIMIT_KEYS.get(key) as keyof Limits] = whole(value, `limits.${key}`);
  }
  let limits: Limits;
  try {
    limits = makeLimits(limitOverrides);
  } catch (error) {
    fail('limits', (error as Error).message);
  }

  const pick = (fromFlag: unknown, envName: string, fromFile: unknown): unknown =>
    fromFlag ?? fromEnv(env, envName) ?? fromFile;

  const host = text(pick(flags.host, 'POSTHORN_HOST', doc.host) ?? '127.0.0.1', 'host');
  const httpPort = port(pick(flags.port, 'POSTHORN_PORT', doc.port) ?? 8888, 'port');
  const wsPortSetting = pick(flags.wsPort, 'POSTHORN_WS_PORT', doc.ws_port);
  const wsPort = port(wsPortSetting ?? 9000, 'ws_port');
  const dataFromFile = doc.data === undefined ? undefined : resolve(fileDir, text(doc.data, 'data'));
  const dataSetting = pick(flags.data, 'POSTHORN_DATA', undefined);
  const data =
    dataSetting !== undefined ? resolve(cwd, text(dataSetting, 'data')) : (dataFromFile ?? resolve(cwd, 'data'));
  const store = pick(flags.store, 'POSTHORN_STORE', doc.store) ?? 'disk';
  if (store !== 'disk' && store !== 'memory') fail('store', `must be "disk" or "memory", not ${JSON.stringify(store)}`);
  const logLevel = text(pick(flags.logLevel, 'POSTHORN_LOG_LEVEL', doc.log_level) ?? 'info', 'log_level');
  if (!LOG_LEVELS.has(logLevel)) fail('log_level', `must be one of ${[...LOG_LEVELS].join(', ')}`);
  const logRequests = flag(pick(undefined, 'POSTHORN_LOG_REQUESTS', doc.log_requests) ?? true, 'log_requests');
  const enableChecksum = flag(
    pick(undefined, 'POSTHORN_ENABLE_CHECKSUM', doc.enable_checksum) ?? false,
    'enable_checksum',
  );

  const mode = pick(undefined, 'POSTHORN_CLIENT_ID_UUID_SAFE', transport.client_id_uuid_safe) ?? 'strict';
  if (mode !== 'strict' && mode !== 'off') {
    fail('transport.client_id_uuid_safe', `must be "strict" or "off", not ${JSON.stringify(mode)}`);
  }
  const clientIds: ClientIdPolicy = {
    mode,
    minLength:
      transport.min_length_client_id === undefined
        ? DEFAULT_CLIENT_ID_POLICY.minLength
        : whole(transport.min_length_client_id, 'transport.min_length_client_id'),
    maxLength:
      transport.max_length_client_id === undefined
        ? DEFAULT_CLIENT_ID_POLICY.maxLength
        : whole(transport.max_length_client_id, 'transport.max_length_client_id'),
  };
  if (!(clientIds.minLength >= 1 && clientIds.minLength <= clientIds.maxLength)) {
    fail('transport', 'min_length_client_id must be at least 1 and at most max_length_client_id');
  }
  let subscriberTypes = [...DEFAULT_SUBSCRIBER_TYPES];
  if (transport.subscriber_types !== undefined) {
    const types = transport.subscriber_types;
    if (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || t === '')) {
      fail('transport.subscriber_types', 'must be a list of URI schemes');
    }
    subscriberTypes = (types as string[]).map((t) => t.toLowerCase());
  }
  const secret = pick(undefined, 'POSTHORN_SIGNED_URL_SECRET_KEY', signedUrl.secret_key);
  const signedUrlSecret = secret === undefined ? null : text(secret, 'signed_url.secret_key');
  const { pooling, adminToken } = readPoolingConfig(doc.pooling, doc.admin, env);
  const notification = readNotificationConfig(doc.notification, env, data, signedUrlSecret);
  const websocket = readWebSocketConfig(doc.websocket, wsPortSetting !== undefined);

  return {
    host,
    port: httpPort,
    wsPort,
    data,
    store,
    logLevel,
    logRequests,
    enableChecksum,
    clientIds,
    subscriberTypes,
    signedUrlSecret,
    limits,
    pooling,
    adminToken,
    notification,
    websocket,
    file,
  };
}
