/**
 * `posthorn/server`: `posthorn serve` in-process — read a configuration the way the command does
 * (file, environment, flags) and start a server on it. Needs `fastify`.
 */

export type { InitialPool, PoolingSettings } from '../pool/index.js';

export type {
  NotificationConfig,
  PoolingConfig,
  QueueServer,
  ServeFlags,
  ServerConfig,
  WebSocketConfig,
} from '../server/index.js';
export { loadServerConfig, startServer } from '../server/index.js';
export type { ClientIdPolicy } from '../service/index.js';
export type { SmtpRelay } from '../service/notify/index.js';
export type * from './shared-types.js';
