export { findConfigFile, loadServerConfig, readConfigFile, type ServeFlags, type ServerConfig } from './config.js';
export { openStore, type StoreSettings } from './open-store.js';
export { type QueueServer, startQueueServer } from './queue-server.js';
export { checkWorkersAllowed, runPrimary, STOP_MESSAGE } from './worker-cluster.js';
