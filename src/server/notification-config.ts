import { resolve } from 'node:path';
import { DEFAULT_SMTP_RELAY, type SmtpRelay } from '../service/notify/index.js';
import { fail, flag, fromEnv, section, text, whole } from './config-values.js';

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
]);
export const WEBSOCKET_KEYS = new Set(['max_frame_size', 'http_path', 'notification_url']);

function httpUrl(value: unknown, field: string): string {
  const raw = text(value, field);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(field, `must be an http(s) URL, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(field, 'must be an http(s) URL');
  return url.href;
}

export function readNotificationConfig(
  doc: unknown,
  env: NodeJS.ProcessEnv,
  data: string,
  signedUrlSecret: string | null,
): NotificationConfig {
  const n = section(doc, 'notification', NOTIFICATION_KEYS);
  const pick = (name: string, value: unknown) => fromEnv(env, name) ?? value;
  const requireConfirmation = flag(
    pick('POSTHORN_REQUIRE_CONFIRMATION', n.require_confirmation) ?? false,
    'notification.require_confirmation',
  );
  if (requireConfirmation && signedUrlSecret === null) {
    fail('notification.require_confirmation', 'needs signed_url.secret_key, which signs the confirmation links');
  }
  return {
    dir: resolve(
      data,
      text(pick('POSTHORN_NOTIFICATION_SPOOL_DIR', n.spool_dir) ?? 'notifications', 'notification.spool_dir'),
    ),
    requireConfirmation,
    webhookTimeoutMs: whole(n.webhook_timeout ?? 10, 'notification.webhook_timeout', 1, 3600) * 1000,
    maxSubscriptionsPerQueue: whole(
      n.max_subscriptions_per_queue ?? 100,
      'notification.max_subscriptions_per_queue',
      0,
    ),
    maxConcurrentDeliveries: whole(
      n.max_concurrent_deliveries ?? 16,
      'notification.max_concurrent_deliveries',
      1,
      1024,
    ),
    publicUrl: n.public_url === undefined ? null : httpUrl(n.public_url, 'notification.public_url'),
    smtp: {
      host: text(pick('POSTHORN_SMTP_HOST', n.smtp_host) ?? DEFAULT_SMTP_RELAY.host, 'notification.smtp_host'),
      port: whole(
        pick('POSTHORN_SMTP_PORT', n.smtp_port) ?? DEFAULT_SMTP_RELAY.port,
        'notification.smtp_port',
        1,
        65_535,
      ),
      secure: flag(n.smtp_secure ?? DEFAULT_SMTP_RELAY.secure, 'notification.smtp_secure'),
      user: n.smtp_user === undefined ? null : text(n.smtp_user, 'notification.smtp_user'),
      password: n.smtp_password === undefined ? null : text(n.smtp_password, 'notification.smtp_password'),
      from: n.smtp_from === undefined ? DEFAULT_SMTP_RELAY.from : text(n.smtp_from, 'notification.smtp_from'),
    },
  };
}

export function readWebSocketConfig(doc: unknown, portChosen: boolean): WebSocketConfig {
  const w = section(doc, 'websocket', WEBSOCKET_KEYS);
  return {
    portChosen,
    maxFrameBytes: whole(w.max_frame_size ?? 1024 * 1024, 'websocket.max_frame_size', 1024),
    httpPath: flag(w.http_path ?? true, 'websocket.http_path'),
    notificationUrl:
      w.notification_url === undefined ? null : httpUrl(w.notification_url, 'websocket.notification_url'),
  };
}
