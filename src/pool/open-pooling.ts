import {
  type Clock,
  InvalidArgumentError,
  isPosthornError,
  type Limits,
  type Logger,
  ResourceConflictError,
  silentLogger,
} from '../core/index.js';
import type { DataDriver, StoreObserver } from '../store/contract/index.js';
import { createDiskDriver } from '../store/disk/index.js';
import { createMemoryDriver } from '../store/memory/index.js';
import { Catalog, EMBEDDED_POOL } from './catalog.js';
import { PoolAdmin } from './pool-admin.js';
import { poolStoreLimits } from './pool-limits.js';
import { openPoolDriver, parsePoolUri, redactPoolUri } from './pool-uri.js';
import { QueueMover } from './queue-mover.js';

/** A pool named in the configuration, registered at start when the catalogue lacks it. */
export interface InitialPool {
  name: string;
  uri: string;
  weight: number;
  flavor?: string | null;
}

export interface PoolingSettings {
  /** The management store's URI; null keeps the catalogue in the embedded store. */
  catalog: string | null;
  /** A registered pool taking every new queue of no flavor (else: weighted choice, then the embedded store). */
  defaultPool: string | null;
  cacheSeconds: number;
  settleSeconds: number;
  pools: InitialPool[];
}

export interface OpenPoolingOptions {
  settings: PoolingSettings;
  /** The embedded store this server would use without pooling. */
  embedded: { store: 'disk' | 'memory'; data: string };
  /** The service's store limits (storeLimits of its limits). */
  limits: Limits;
  logger?: Logger;
  clock?: Clock;
  /** The observer of each pool's store, by pool name (the server's metrics): `default` for the embedded one. */
  observerFor?: (pool: string) => StoreObserver;
}

/** What a server runs pooling with. */
export interface Pooling {
  catalog: Catalog;
  admin: PoolAdmin;
  mover: QueueMover;
  /** True when the catalogue is kept in a store several servers share. */
  shared: boolean;
  /** Stops moves running here (they resume when started again), then closes every store. */
  close(): Promise<void>;
}

/**
 * Opens pooling for a server. Without a `catalog` URI, the embedded store (the disk folder, or
 * memory) keeps the catalogue and is also the pool `default`, where queues go when no registered
 * pool takes them — so turning pooling on changes nothing until pools are added, and queues made
 * before are adopted as they are used. With a Redis or PostgreSQL `catalog`, several servers share
 * one catalogue, and pools must be stores they can all reach (Redis, PostgreSQL).
 */
export async function openPooling(options: OpenPoolingOptions): Promise<Pooling> {
  const { settings } = options;
  const logger = options.logger ?? silentLogger;
  const limits = poolStoreLimits(options.limits);
  const clock = options.clock;
  let management: DataDriver;
  let embedded: DataDriver | null = null;
  let shared = false;
  if (settings.catalog === null) {
    const watched = options.observerFor ? { observer: options.observerFor(EMBEDDED_POOL) } : {};
    embedded =
      options.embedded.store === 'memory'
        ? createMemoryDriver({ limits, ...watched, ...(clock ? { clock } : {}) })
        : await createDiskDriver({
            dir: options.embedded.data,
            limits,
            logger,
            ...watched,
            ...(clock ? { clock } : {}),
          });
    management = embedded;
  } else {
    let location: ReturnType<typeof parsePoolUri>;
    try {
      location = parsePoolUri(settings.catalog);
    } catch (error) {
      throw new InvalidArgumentError('config pooling.catalog', (error as Error).message, { cause: error });
    }
    shared = location.shared;
    management = await openPoolDriver(settings.catalog, { limits, logger, ...(clock ? { clock } : {}) });
  }
  const catalog = new Catalog({
    management,
    embedded,
    defaultPool: settings.defaultPool,
    limits,
    logger,
    cacheSeconds: settings.cacheSeconds,
    settleSeconds: settings.settleSeconds,
    sharedOnly: shared,
    ...(clock ? { clock } : {}),
    ...(options.observerFor ? { observerFor: options.observerFor } : {}),
  });
  const admin = new PoolAdmin(catalog);
  const mover = new QueueMover(catalog);
  try {
    await registerInitialPools(admin, settings.pools, logger);
  } catch (error) {
    await catalog.close().catch(() => {});
    throw error;
  }
  return {
    catalog,
    admin,
    mover,
    shared,
    async close() {
      await mover.close();
      await catalog.close();
    },
  };
}

/**
 * Registers the configured pools the catalogue lacks, then their flavors. The catalogue is the
 * truth once a pool is in it: a configured pool already registered is left as it is (a different
 * URI is reported). A pool that cannot be reached now is reported and skipped, so one pool that is
 * down does not keep a server from starting; it is registered at a later start, or by the admin API.
 */
export async function registerInitialPools(admin: PoolAdmin, pools: InitialPool[], logger: Logger): Promise<void> {
  const store = admin.catalog.store;
  const flavors = new Set<string>();
  for (const pool of pools) {
    const existing = await store.getPool(pool.name);
    if (existing !== null) {
      if (existing.uri !== pool.uri) {
        logger.warn(
          { pool: pool.name, configured: redactPoolUri(pool.uri), registered: redactPoolUri(existing.uri) },
          'a configured pool is registered with another URI; the registered one is kept (change it through the admin API)',
        );
      }
    } else {
      try {
        await admin.createPool(pool.name, {
          uri: pool.uri,
          weight: pool.weight,
          ...(pool.flavor ? { flavor: pool.flavor } : {}),
        });
        logger.info({ pool: pool.name, uri: redactPoolUri(pool.uri) }, 'pool registered');
      } catch (error) {
        if (error instanceof ResourceConflictError) continue; // another server registered it just now
        if (!isPosthornError(error)) throw error;
        logger.error({ pool: pool.name, err: error }, 'a configured pool could not be registered; skipped');
        continue;
      }
    }
    if (pool.flavor) flavors.add(pool.flavor);
  }
  for (const flavor of flavors) {
    if ((await store.getFlavor(flavor)) !== null) continue;
    const members = pools.filter((p) => p.flavor === flavor).map((p) => p.name);
    const registered = [...(await admin.catalog.pools(true)).keys()].filter((name) => members.includes(name));
    if (registered.length === 0) continue;
    try {
      await admin.createFlavor(flavor, { pool_list: registered });
    } catch (error) {
      if (error instanceof ResourceConflictError) continue;
      if (!isPosthornError(error)) throw error;
      logger.error({ flavor, err: error }, 'a configured flavor could not be created; skipped');
    }
  }
}
