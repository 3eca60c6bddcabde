/**
 * `posthorn/server`: `posthorn serve` in-process — read a configuration the way the command does
 * (file, environment, flags) and start a server on it. Needs `fastify`.
 */

export type { CorsPolicy } from '../api/http/index.js';
export type { InitialPool, PoolingSettings } from '../pool/index.js';
export type {
  AuthConfig,
  FairShareConfig,
  MetricsConfig,
  NotificationConfig,
  PoolingConfig,
  QueueServer,
  ServeFlags,
  ServerConfig,
  TlsConfig,
  WebSocketConfig,
} from '../server/index.js';
export { loadServerConfig, startServer } from '../server/index.js';
export type {
  ApiKey,
  AuthSettings,
  AuthStrategy,
  ClientIdPolicy,
  EncryptionKey,
  FairShareLimits,
  KeyRing,
  KeystoneSettings,
  QuotaKey,
  QuotaOverride,
  QuotaSettings,
  RateLimit,
  RoleNames,
  TokenSettings,
} from '../service/index.js';
export type { SmtpRelay } from '../service/notify/index.js';
export type * from './shared-types.js';
