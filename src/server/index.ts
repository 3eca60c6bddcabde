export type { AuthConfig } from './auth-config.js';
export {
  findConfigFile,
  knownSettings,
  loadServerConfig,
  readConfigFile,
  type ServeFlags,
  type ServerConfig,
} from './config.js';
export type { FairShareConfig } from './fair-share-config.js';
export type { MetricsConfig } from './metrics-config.js';
export type { NotificationConfig, WebSocketConfig } from './notification-config.js';
export { openStore, type StoreSettings } from './open-store.js';
export type { PoolingConfig } from './pooling-config.js';
export { type QueueServer, type RunningServer, startQueueServer, startServer } from './queue-server.js';
export { serverLogger } from './server-logger.js';
export type { TlsConfig } from './tls-config.js';
export { checkWorkersAllowed, runPrimary, STOP_MESSAGE } from './worker-cluster.js';
