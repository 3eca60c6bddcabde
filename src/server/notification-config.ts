import { resolve } from 'node:path';
import { DEFAULT_SMTP_RELAY, parseNetwork, type SmtpRelay } from '../service/notify/index.js';
import { fail, flag, type Setting, type SettingSources, section, text, whole } from './config-values.js';

/**
 * The notification and WebSocket settings of `posthorn serve` (read by config.ts):
 *
 *   [notification]             # subscriptions that deliver: webhooks and mail, through a delivery spool
 *   spool_dir = "notifications"        # POSTHORN_NOTIFICATION_SPOOL_DIR; relative to `data`
 *   require_confirmation = false       # POSTHORN_REQUIRE_CONFIRMATION; needs signed_url.secret_key
 *   webhook_timeout = 10               # seconds a webhook (or a mail) may take before it is retried
 *   max_subscriptions_per_queue = 100  # 0: no limit
 *   max_concurrent_deliveries = 16     # spooled batches of notifications delivered at once
 *   public_url = "https://queues.example.org"  # base of confirmation links (default: this server's URL)
 *   smtp_host = "127.0.0.1"            # POSTHORN_SMTP_HOST: the relay of mailto: subscribers
 *   smtp_port = 25                     # POSTHORN_SMTP_PORT
 *   smtp_secure = false                # TLS from the first byte (port 465)
 *   smtp_user = "…"                    # with smtp_password, when the relay wants a login
 *   smtp_from = "posthorn@localhost"   # the sender when a subscription's options give no "from"
 *   deny_private_destinations = true   # POSTHORN_DENY_PRIVATE_DESTINATIONS: webhooks may not reach loopback,
 *                                      # private, link-local... addresses (default: on unless auth is noauth)
 *   allow_destinations = ["10.1.2.0/24", "hooks.internal"]  # POSTHORN_ALLOW_DESTINATIONS (comma-separated):
 *                                      # networks and host names reached even where denied
 *   deny_destinations = ["192.0.2.0/24", ".example.net"]    # POSTHORN_DENY_DESTINATIONS: never reached
 *
 *   [websocket]                # Zaqar's WebSocket API, on ws_port (and /v2/ws on the HTTP port)
 *   max_frame_size = 1048576   # bytes; a bigger frame closes its socket (1009)
 *   http_path = true           # also serve it at /v2/ws on the HTTP port
 *   notification_url = "http://10.0.0.5:9000/"  # how servers reach this one's self-subscribed sockets
 *                              # (default: ws_port's own address)
 */
export interface NotificationConfig {
  /** The notifications folder (absolute): the delivery spool and the delivery counts. */
  dir: string;
  requireConfirmation: boolean;
  webhookTimeoutMs: number;
  maxSubscriptionsPerQueue: number;
  maxConcurrentDeliveries: number;
  publicUrl: string | null;
  smtp: SmtpRelay;
  /** Webhook destinations: see service/notify/destination-policy.ts. */
  destinations: { allow: string[]; deny: string[]; denyPrivate: boolean };
}

export interface WebSocketConfig {
  /**
   * False when ws_port is the default (9000) rather than a setting: if that port is taken, the
   * server says so and listens on a free port instead of refusing to start.
   */
  portChosen: boolean;
  maxFrameBytes: number;
  httpPath: boolean;
  notificationUrl: string | null;
}

export const NOTIFICATION_KEYS = new Set([
  'spool_dir',
  'require_confirmation',
  'webhook_timeout',
  'max_subscriptions_per_queue',
  'max_concurrent_deliveries',
  'public_url',
  'smtp_host',
  'smtp_port',
  'smtp_secure',
  'smtp_user',
  'smtp_password',
  'smtp_from',
  'deny_private_destinations',
  'allow_destinations',
  'deny_destinations',
]);
export const WEBSOCKET_KEYS = new Set(['max_frame_size', 'http_path', 'notification_url']);

function httpUrl(setting: Setting): string {
  const raw = text(setting);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(setting, `must be an http(s) URL, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(setting, `must be an http(s) URL, not ${JSON.stringify(raw)}`);
  }
  return url.href;
}

/** A list of networks and host names: a list in the file, comma-separated in an environment variable. */
function destinations(setting: Setting): string[] {
  const { value } = setting;
  const list =
    typeof value === 'string' && setting.origin.kind === 'env'
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '')
      : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v === '')) {
    fail(setting, 'must be a list of networks (CIDR) and host names');
  }
  for (const entry of list as string[]) {
    try {
      parseNetwork(entry);
    } catch (error) {
      fail(setting, `must be a list of networks (CIDR) and host names: ${(error as Error).message}`);
    }
  }
  return list as string[];
}

export function readNotificationConfig(
  doc: unknown,
  sources: SettingSources,
  data: string,
  signedUrlSecret: string | null,
  options: { denyPrivateByDefault?: boolean } = {},
): NotificationConfig {
  const n = section(sources.fromFile('notification', doc), NOTIFICATION_KEYS);
  const setting = (key: string, options: { env?: string; fallback?: unknown } = {}) =>
    sources.pick(`notification.${key}`, n[key], options);
  const optionalText = (key: string) => {
    const s = setting(key);
    return s.value === undefined ? null : text(s);
  };
  const confirmation = setting('require_confirmation', { env: 'POSTHORN_REQUIRE_CONFIRMATION', fallback: false });
  const requireConfirmation = flag(confirmation);
  if (requireConfirmation && signedUrlSecret === null) {
    fail(confirmation, 'needs signed_url.secret_key, which signs the confirmation links');
  }
  const publicUrl = setting('public_url');
  return {
    dir: resolve(
      data,
      text(setting('spool_dir', { env: 'POSTHORN_NOTIFICATION_SPOOL_DIR', fallback: 'notifications' })),
    ),
    requireConfirmation,
    webhookTimeoutMs: whole(setting('webhook_timeout', { fallback: 10 }), 1, 3600) * 1000,
    maxSubscriptionsPerQueue: whole(setting('max_subscriptions_per_queue', { fallback: 100 }), 0),
    maxConcurrentDeliveries: whole(setting('max_concurrent_deliveries', { fallback: 16 }), 1, 1024),
    publicUrl: publicUrl.value === undefined ? null : httpUrl(publicUrl),
    smtp: {
      host: text(setting('smtp_host', { env: 'POSTHORN_SMTP_HOST', fallback: DEFAULT_SMTP_RELAY.host })),
      port: whole(setting('smtp_port', { env: 'POSTHORN_SMTP_PORT', fallback: DEFAULT_SMTP_RELAY.port }), 1, 65_535),
      secure: flag(setting('smtp_secure', { fallback: DEFAULT_SMTP_RELAY.secure })),
      user: optionalText('smtp_user'),
      password: optionalText('smtp_password'),
      from: optionalText('smtp_from') ?? DEFAULT_SMTP_RELAY.from,
    },
    destinations: {
      allow: destinations(setting('allow_destinations', { env: 'POSTHORN_ALLOW_DESTINATIONS', fallback: [] })),
      deny: destinations(setting('deny_destinations', { env: 'POSTHORN_DENY_DESTINATIONS', fallback: [] })),
      denyPrivate: flag(
        setting('deny_private_destinations', {
          env: 'POSTHORN_DENY_PRIVATE_DESTINATIONS',
          fallback: options.denyPrivateByDefault === true,
        }),
      ),
    },
  };
}

export function readWebSocketConfig(doc: unknown, sources: SettingSources, portChosen: boolean): WebSocketConfig {
  const w = section(sources.fromFile('websocket', doc), WEBSOCKET_KEYS);
  const setting = (key: string, fallback?: unknown) => sources.pick(`websocket.${key}`, w[key], { fallback });
  const notificationUrl = setting('notification_url');
  return {
    portChosen,
    maxFrameBytes: whole(setting('max_frame_size', 1024 * 1024), 1024),
    httpPath: flag(setting('http_path', true)),
    notificationUrl: notificationUrl.value === undefined ? null : httpUrl(notificationUrl),
  };
}
