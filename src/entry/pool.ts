/**
 * `posthorn/pool`: Zaqar's pooling — a catalogue mapping each queue to a pool of storage, flavors
 * grouping pools, live queue moves. Redis and PostgreSQL pools load their drivers when first opened.
 */

export type {
  CatalogOptions,
  CopyIntent,
  FlavorRecord,
  FlavorView,
  InitialPool,
  ManagementStore,
  MoveOptions,
  MovePhase,
  MoveRecord,
  MoveReport,
  MoveStatus,
  OpenPoolingOptions,
  OpenPoolOptions,
  PageQuery,
  Placement,
  Pooling,
  PoolingSettings,
  PoolKind,
  PoolLocation,
  PoolRecord,
  PoolView,
  Route,
  RouteBook,
  RoutedDriver,
  RouteListing,
} from '../pool/index.js';
export {
  Catalog,
  openPoolDriver,
  openPooling,
  PoolAdmin,
  parsePoolUri,
  poolStoreLimits,
  QueueMover,
} from '../pool/index.js';
export type * from './shared-types.js';
