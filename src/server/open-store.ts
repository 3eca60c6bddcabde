import type { Limits, Logger } from '../core/index.js';
import { storeLimits } from '../service/index.js';
import type { DataDriver, StoreObserver } from '../store/contract/index.js';
import { createDiskDriver } from '../store/disk/index.js';
import { createMemoryDriver } from '../store/memory/index.js';

export interface StoreSettings {
  store: 'disk' | 'memory';
  /** The disk store's folder. */
  data: string;
  /** The service's limits; the store gets room for the service's namespaces (storeLimits). */
  limits: Limits;
}

/**
 * Opens the store `posthorn serve` keeps its queues in: the embedded disk store by default
 * (durable: a message is acknowledged after its fsync; the folder is locked against a second
 * server), or memory when asked for (for trials and benchmarks; everything is gone at exit).
 * This is the one place the server chooses a store; pooling (issue 7) takes over from here.
 */
export async function openStore(
  settings: StoreSettings,
  logger: Logger,
  observer?: StoreObserver,
): Promise<DataDriver> {
  const limits = storeLimits(settings.limits);
  const watched = observer ? { observer } : {};
  if (settings.store === 'memory') return createMemoryDriver({ limits, ...watched });
  return createDiskDriver({ dir: settings.data, limits, logger, ...watched });
}
