import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, relative, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { CorsPolicy } from '../api/http/cors.js';
import { DEFAULT_LIMITS, InvalidArgumentError, LIMIT_RANGES, type Limits, makeLimits } from '../core/index.js';
import type { KeyRing, QuotaSettings } from '../service/index.js';
import { type ClientIdPolicy, DEFAULT_CLIENT_ID_POLICY, DEFAULT_SUBSCRIBER_TYPES } from '../service/index.js';
import {
  AUTH_TOP_KEYS,
  type AuthConfig,
  KEYSTONE_KEYS,
  POLICY_KEYS,
  readAuthConfig,
  TOKEN_KEY_KEYS,
  TOKEN_KEYS,
} from './auth-config.js';
import { fail, flag, port, SettingSources, section, text, whole } from './config-values.js';
import { CORS_KEYS, readCorsConfig } from './cors-config.js';
import { ENCRYPTION_KEYS, readEncryptionConfig } from './encryption-config.js';
import {
  FAIR_SHARE_KEYS,
  FAIR_SHARE_PROJECT_KEYS,
  type FairShareConfig,
  readFairShareConfig,
} from './fair-share-config.js';
import { METRICS_TOP_KEYS, type MetricsConfig, readMetricsConfig } from './metrics-config.js';
import {
  NOTIFICATION_KEYS,
  type NotificationConfig,
  readNotificationConfig,
  readWebSocketConfig,
  WEBSOCKET_KEYS,
  type WebSocketConfig,
} from './notification-config.js';
import { ADMIN_KEYS, POOL_KEYS, POOLING_KEYS, type PoolingConfig, readPoolingConfig } from './pooling-config.js';
import { QUOTA_CONFIG_KEYS, QUOTA_PROJECT_KEYS, readQuotaConfig } from './quota-config.js';
import { readTlsConfig, TLS_KEYS, type TlsConfig } from './tls-config.js';

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
 *   max_connections = 1000     # POSTHORN_MAX_CONNECTIONS: client connections of both ports together
 *                              # (default: derived from the file-descriptor limit, see connection-limit.ts)
 *
 *   [transport]                # Zaqar's [transport] options
 *   client_id_uuid_safe = "strict"   # POSTHORN_CLIENT_ID_UUID_SAFE: "strict" (UUIDs) or "off" (free text)
 *   min_length_client_id = 10
 *   max_length_client_id = 36
 *   subscriber_types = ["http", "https", "mailto", "trust+http", "trust+https"]
 *   message_delete_with_claim_id = false   # a delete by ids must also pass claim_ids (400 without)
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
 *   [encryption]               # encryption at rest: key (POSTHORN_ENCRYPTION_KEY), key_id, old_keys;
 *                              # see encryption-config.ts
 *   [tls]                      # cert, key: HTTPS and WSS (see tls-config.ts)
 *   [cors]                     # Zaqar's CORS options: allowed_origin, allow_methods... (see cors-config.ts)
 *   [quotas]                   # per-project max_queues, max_messages, max_bytes (see quota-config.ts)
 *   [fair_share]               # per-project rates of requests and messages, 429 past them (see fair-share-config.ts)
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
  /**
   * Client connections the HTTP and WebSocket ports hold together; more are refused with 503.
   * Null: three quarters of the file descriptors left under the soft limit at start.
   */
  maxConnections: number | null;
  clientIds: ClientIdPolicy;
  subscriberTypes: string[];
  /** Zaqar's `[transport] message_delete_with_claim_id`: `DELETE ?ids` without `claim_ids` is refused. */
  messageDeleteWithClaimId: boolean;
  signedUrlSecret: string | null;
  limits: Limits;
  /** Storage pools (null: off, one embedded store as before). */
  pooling: PoolingConfig | null;
  /** What admin requests carry in X-Admin-Token; null: the admin API refuses every request. */
  adminToken: string | null;
  /** Subscription notifications: their spool folder, confirmation, timeouts, limits, SMTP relay. */
  notification: NotificationConfig;
  websocket: WebSocketConfig;
  /** auth_strategy, default_project, [keystone_authtoken], [token], [policy]: see auth-config.ts. */
  auth: AuthConfig;
  /** Keys of encryption at rest (current: null when none is set). */
  encryption: KeyRing;
  /** HTTPS and WSS; null: plain HTTP and WS. */
  tls: TlsConfig | null;
  /** CORS for browsers' pages; null: off (no allowed_origin). */
  cors: CorsPolicy | null;
  /** Per-project quotas: defaults and projects' own (the admin API changes them at run time). */
  quotas: QuotaSettings;
  /** Per-project token buckets of requests and posted messages; null: off (no rate set). */
  fairShare: FairShareConfig | null;
  /** GET /metrics: on or off, its own port, how many queues it reports one by one. */
  metrics: MetricsConfig;
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
  'max_connections',
  'transport',
  'signed_url',
  'limits',
  'pooling',
  'admin',
  'notification',
  'websocket',
  ...AUTH_TOP_KEYS,
  'encryption',
  'tls',
  'cors',
  'quotas',
  'fair_share',
  ...METRICS_TOP_KEYS,
]);
const SIGNED_URL_KEYS = new Set(['secret_key']);
const TRANSPORT_KEYS = new Set([
  'client_id_uuid_safe',
  'min_length_client_id',
  'max_length_client_id',
  'subscriber_types',
  'message_delete_with_claim_id',
]);

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const LIMIT_KEYS = new Map<string, keyof Limits>(
  (Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]).map((key) => [snake(key), key]),
);

/**
 * Every setting a configuration file may hold, as `key` or `table.key` (`pooling.pools.key` for
 * the keys of each pool, `quotas.projects.*.key` for those of each project), for
 * posthorn.example.toml's test to check that it shows them all.
 */
export function knownSettings(): string[] {
  const tables: [string, Iterable<string>][] = [
    ['transport', TRANSPORT_KEYS],
    ['signed_url', SIGNED_URL_KEYS],
    ['limits', LIMIT_KEYS.keys()],
    ['notification', NOTIFICATION_KEYS],
    ['websocket', WEBSOCKET_KEYS],
    ['encryption', ENCRYPTION_KEYS],
    ['tls', TLS_KEYS],
    ['cors', CORS_KEYS],
    ['fair_share', [...FAIR_SHARE_KEYS].filter((k) => k !== 'projects')],
    ['fair_share.projects.*', FAIR_SHARE_PROJECT_KEYS],
    ['admin', ADMIN_KEYS],
    ['pooling', [...POOLING_KEYS].filter((k) => k !== 'pools')],
    ['pooling.pools', POOL_KEYS],
    ['keystone_authtoken', KEYSTONE_KEYS],
    ['token', [...TOKEN_KEYS].filter((k) => k !== 'keys')],
    ['token.keys', TOKEN_KEY_KEYS],
    ['policy', POLICY_KEYS],
    ['quotas', [...QUOTA_CONFIG_KEYS].filter((k) => k !== 'projects')],
    ['quotas.projects.*', QUOTA_PROJECT_KEYS],
  ];
  const tableNames = new Set(tables.map(([t]) => t.split('.')[0]));
  return [
    ...[...TOP_KEYS].filter((k) => !tableNames.has(k)),
    ...tables.flatMap(([table, keys]) => [...keys].map((k) => `${table}.${k}`)),
  ];
}

/** A file's name for people: relative to the working folder when it is inside it, else absolute. */
function shownPath(path: string, cwd: string): string {
  const relativePath = relative(cwd, path);
  return relativePath !== '' && !relativePath.startsWith('..') && !isAbsolute(relativePath) ? relativePath : path;
}

/**
 * Reads a config file (TOML unless its name ends in .json). `shownAs` is the name its errors use
 * (default: the path).
 */
export function readConfigFile(path: string, shownAs: string = path): Record<string, unknown> {
  const source = readFileSync(path, 'utf8');
  const json = extname(path).toLowerCase() === '.json';
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(source) : parseToml(source);
  } catch (error) {
    // smol-toml's message ends in a drawing of the line; its first line and the position say it in one line.
    const reason =
      error instanceof TomlError
        ? `${error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '')} (line ${error.line}, column ${error.column})`
        : (error as Error).message;
    throw new InvalidArgumentError('config file', reason, {
      message: `${shownAs} is not valid ${json ? 'JSON' : 'TOML'}: ${reason}`,
      cause: error,
    });
  }
  return section(new SettingSources(shownAs, {}).fromFile('', parsed), TOP_KEYS);
}

/** The file to read: the flag, else $POSTHORN_CONFIG, else ./posthorn.toml or ./posthorn.json when present. */
export function findConfigFile(flags: ServeFlags, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const named = flags.config ?? env.POSTHORN_CONFIG;
  if (named !== undefined && named !== '') {
    const path = resolve(cwd, named);
    if (!existsSync(path)) {
      const from = flags.config !== undefined ? '--config' : 'environment variable POSTHORN_CONFIG';
      throw new InvalidArgumentError('config file', `${path} does not exist`, {
        message: `config file ${shownPath(path, cwd)} (from ${from}) does not exist`,
      });
    }
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
  const sources = new SettingSources(file === null ? null : shownPath(file, cwd), env);
  const doc = file === null ? {} : readConfigFile(file, sources.file ?? file);
  const fileDir = file === null ? cwd : dirname(file);
  const fromFile = (key: string) => sources.fromFile(key, doc[key]);

  const transport = section(fromFile('transport'), TRANSPORT_KEYS);
  const signedUrl = section(fromFile('signed_url'), SIGNED_URL_KEYS);
  const limitsDoc = section(fromFile('limits'), LIMIT_KEYS);

  const limitOverrides: Partial<Limits> = {};
  for (const [key, value] of Object.entries(limitsDoc)) {
    limitOverrides[LIMIT_KEYS.get(key) as keyof Limits] = whole(sources.fromFile(`limits.${key}`, value));
  }
  const merged = { ...DEFAULT_LIMITS, ...limitOverrides };
  for (const range of LIMIT_RANGES) {
    const [min, def, max] = range.map((key) => merged[key]) as [number, number, number];
    if (!(min <= def && def <= max)) {
      const [a, b, c] = range.map(snake);
      fail(fromFile('limits'), `must keep ${a} (${min}) <= ${b} (${def}) <= ${c} (${max})`);
    }
  }
  const limits = makeLimits(limitOverrides);

  const host = text(
    sources.pick('host', doc.host, {
      flag: { name: '--host', value: flags.host },
      env: 'POSTHORN_HOST',
      fallback: '127.0.0.1',
    }),
  );
  const httpPort = port(
    sources.pick('port', doc.port, {
      flag: { name: '--port', value: flags.port },
      env: 'POSTHORN_PORT',
      fallback: 8888,
    }),
  );
  const wsPortSetting = sources.pick('ws_port', doc.ws_port, {
    flag: { name: '--ws-port', value: flags.wsPort },
    env: 'POSTHORN_WS_PORT',
  });
  const wsPort = port(wsPortSetting.value === undefined ? { ...wsPortSetting, value: 9000 } : wsPortSetting);
  // Relative to the file's folder when the file sets it, to the working folder otherwise.
  const dataSetting = sources.pick('data', undefined, {
    flag: { name: '--data', value: flags.data },
    env: 'POSTHORN_DATA',
  });
  const data =
    dataSetting.value !== undefined
      ? resolve(cwd, text(dataSetting))
      : doc.data !== undefined
        ? resolve(fileDir, text(fromFile('data')))
        : resolve(cwd, 'data');
  const storeSetting = sources.pick('store', doc.store, {
    flag: { name: '--store', value: flags.store },
    env: 'POSTHORN_STORE',
    fallback: 'disk',
  });
  const store = storeSetting.value;
  if (store !== 'disk' && store !== 'memory')
    fail(storeSetting, `must be "disk" or "memory", not ${JSON.stringify(store)}`);
  const logLevelSetting = sources.pick('log_level', doc.log_level, {
    flag: { name: '--log-level', value: flags.logLevel },
    env: 'POSTHORN_LOG_LEVEL',
    fallback: 'info',
  });
  const logLevel = text(logLevelSetting);
  if (!LOG_LEVELS.has(logLevel)) {
    fail(logLevelSetting, `must be one of ${[...LOG_LEVELS].join(', ')}, not ${JSON.stringify(logLevel)}`);
  }
  const logRequests = flag(
    sources.pick('log_requests', doc.log_requests, { env: 'POSTHORN_LOG_REQUESTS', fallback: true }),
  );
  const enableChecksum = flag(
    sources.pick('enable_checksum', doc.enable_checksum, { env: 'POSTHORN_ENABLE_CHECKSUM', fallback: false }),
  );

  const maxConnectionsSetting = sources.pick('max_connections', doc.max_connections, {
    env: 'POSTHORN_MAX_CONNECTIONS',
  });
  const maxConnections = maxConnectionsSetting.value === undefined ? null : whole(maxConnectionsSetting, 1, 10_000_000);

  const modeSetting = sources.pick('transport.client_id_uuid_safe', transport.client_id_uuid_safe, {
    env: 'POSTHORN_CLIENT_ID_UUID_SAFE',
    fallback: 'strict',
  });
  const mode = modeSetting.value;
  if (mode !== 'strict' && mode !== 'off') fail(modeSetting, `must be "strict" or "off", not ${JSON.stringify(mode)}`);
  const minSetting = sources.fromFile('transport.min_length_client_id', transport.min_length_client_id);
  const maxSetting = sources.fromFile('transport.max_length_client_id', transport.max_length_client_id);
  const clientIds: ClientIdPolicy = {
    mode,
    minLength: minSetting.value === undefined ? DEFAULT_CLIENT_ID_POLICY.minLength : whole(minSetting, 1),
    maxLength: maxSetting.value === undefined ? DEFAULT_CLIENT_ID_POLICY.maxLength : whole(maxSetting, 1),
  };
  if (clientIds.minLength > clientIds.maxLength) {
    // Blame the one the file sets (the minimum when it sets both).
    if (minSetting.value === undefined) {
      fail(
        maxSetting,
        `must be at least transport.min_length_client_id (${clientIds.minLength}), not ${clientIds.maxLength}`,
      );
    }
    fail(
      minSetting,
      `must be at most transport.max_length_client_id (${clientIds.maxLength}), not ${clientIds.minLength}`,
    );
  }
  let subscriberTypes = [...DEFAULT_SUBSCRIBER_TYPES];
  if (transport.subscriber_types !== undefined) {
    const types = transport.subscriber_types;
    if (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || t === '')) {
      fail(sources.fromFile('transport.subscriber_types', types), 'must be a list of URI schemes');
    }
    subscriberTypes = (types as string[]).map((t) => t.toLowerCase());
  }
  const messageDeleteWithClaimId = flag(
    sources.pick('transport.message_delete_with_claim_id', transport.message_delete_with_claim_id, {
      fallback: false,
    }),
  );
  const secret = sources.pick('signed_url.secret_key', signedUrl.secret_key, { env: 'POSTHORN_SIGNED_URL_SECRET_KEY' });
  const signedUrlSecret = secret.value === undefined ? null : text(secret);
  const { pooling, adminToken } = readPoolingConfig(doc.pooling, doc.admin, sources);
  const auth = readAuthConfig(doc, sources);
  // Webhooks may reach private networks by default only where every caller is trusted (noauth):
  // with real tenants, a subscription must not become a way into the server's own network.
  const denyPrivateByDefault = auth.strategy !== 'noauth';
  const notification = readNotificationConfig(doc.notification, sources, data, signedUrlSecret, {
    denyPrivateByDefault,
  });
  const websocket = readWebSocketConfig(doc.websocket, sources, wsPortSetting.value !== undefined);
  const encryption = readEncryptionConfig(doc.encryption, sources);
  const tls = readTlsConfig(doc.tls, sources, fileDir, cwd);
  const cors = readCorsConfig(doc.cors, sources);
  const quotas = readQuotaConfig(doc.quotas, sources);
  const fairShare = readFairShareConfig(doc.fair_share, sources);

  return {
    host,
    port: httpPort,
    wsPort,
    data,
    store,
    logLevel,
    logRequests,
    enableChecksum,
    maxConnections,
    clientIds,
    subscriberTypes,
    messageDeleteWithClaimId,
    signedUrlSecret,
    limits,
    pooling,
    adminToken,
    notification,
    websocket,
    auth,
    encryption,
    tls,
    cors,
    quotas,
    fairShare,
    metrics: readMetricsConfig(doc, sources),
    file,
  };
}
