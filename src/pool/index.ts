export { Catalog, type CatalogOptions, EMBEDDED_POOL } from './catalog.js';
export { Lease } from './lease.js';
export {
  type CopyIntent,
  type FlavorRecord,
  ManagementStore,
  type MovePhase,
  type MoveRecord,
  type MoveStatus,
  moveKey,
  type PoolRecord,
  type Route,
  type RouteListing,
} from './management-store.js';
export type { MoveOptions } from './move-run.js';
export {
  type InitialPool,
  type OpenPoolingOptions,
  openPooling,
  type Pooling,
  type PoolingSettings,
  registerInitialPools,
} from './open-pooling.js';
export { type FlavorView, MAX_POOL_WEIGHT, type PageQuery, PoolAdmin, type PoolView } from './pool-admin.js';
export { PoolDrivers } from './pool-drivers.js';
export { MOVE_BATCH, poolStoreLimits } from './pool-limits.js';
export {
  MAX_POOL_URI_LENGTH,
  type OpenPoolOptions,
  openPoolDriver,
  type PoolKind,
  type PoolLocation,
  parsePoolUri,
  redactPoolUri,
} from './pool-uri.js';
export { type MoveReport, QueueMover } from './queue-mover.js';
export { type Placement, type RouteBook, RoutedDriver } from './routed-driver.js';
export { unavailableDriver } from './unavailable-driver.js';
export { weightedChoice } from './weighted-choice.js';
