/**
 * What the pool tests share: a catalog over in-memory stores (a management store that is also the
 * embedded pool `default`, and memory pools the catalog opens), a service over it, and a
 * deterministic "random" for the weighted choice.
 */
import { type Clock, FakeClock, makeLimits, systemClock } from '../../src/core/index.js';
import { Catalog, type CatalogOptions, PoolAdmin, poolStoreLimits, QueueMover } from '../../src/pool/index.js';
import { QueueService, storeLimits } from '../../src/service/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

export const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';

export const POOL_LIMITS = poolStoreLimits(storeLimits(makeLimits()));

/** Evenly spread values in [0, 1), repeating: a weighted choice over them lands exactly in proportion. */
export function evenly(steps: number): () => number {
  let i = 0;
  return () => {
    const value = (i % steps) / steps;
    i++;
    return value;
  };
}

export interface PoolSetup {
  clock: Clock;
  management: DataDriver;
  catalog: Catalog;
  admin: PoolAdmin;
  mover: QueueMover;
  service: QueueService;
  /** Every memory store the catalog opened, by URI order of opening. */
  opened: DataDriver[];
}

/**
 * A catalog over memory stores. `management` may be shared between two setups (two "servers").
 * Memory pools are opened by the catalog (each memory:// pool is a store of its own).
 */
export function poolSetup(
  options: Partial<CatalogOptions> & { management?: DataDriver; clock?: Clock; embedded?: DataDriver | null } = {},
): PoolSetup {
  const clock = options.clock ?? new FakeClock();
  const management = options.management ?? createMemoryDriver({ clock, limits: POOL_LIMITS });
  const opened: DataDriver[] = [];
  const catalog = new Catalog({
    cacheSeconds: 1,
    settleSeconds: 0,
    ...options,
    management,
    embedded: options.embedded === undefined ? management : options.embedded,
    limits: POOL_LIMITS,
    clock,
    openDriver:
      options.openDriver ??
      (async () => {
        const driver = createMemoryDriver({ clock, limits: POOL_LIMITS });
        opened.push(driver);
        return driver;
      }),
  });
  const admin = new PoolAdmin(catalog);
  const mover = new QueueMover(catalog);
  const service = new QueueService({ resolver: catalog, clock });
  return { clock, management, catalog, admin, mover, service, opened };
}

/** Real time for tests that run moves (their waits are on the clock). */
export const realClock = systemClock;
