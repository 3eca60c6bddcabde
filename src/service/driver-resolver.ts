import type { DataDriver, ListQueuesOptions, QueuePage } from '../store/contract/index.js';

/**
 * The one seam between the service and storage: every storage call of the service goes through
 * a DriverResolver. With one store it always answers the same driver (singleDriverResolver);
 * pooling (issue 7) replaces it with the pool catalog, which maps (project, queue) to a pool's
 * driver, lists queues from the catalog, and reports every pool's health.
 *
 * Projects given here are store projects (see namespaces.ts): topics and the health probe have
 * namespaced project ids, so a catalog places them like any queue.
 */
export interface DriverResolver {
  /** The driver holding (project, queue), whether or not the queue exists yet. */
  forQueue(project: string, queue: string): DataDriver | Promise<DataDriver>;
  /** A page of the project's queues, across every driver the resolver spans. */
  listQueues(project: string, options: ListQueuesOptions): Promise<QueuePage>;
  /** Told after a queue was deleted, so a catalog can forget where it lived. */
  queueDeleted?(project: string, queue: string): Promise<void>;
  /** Every driver by a name for health reports ('default' for a single store). */
  drivers(): Promise<ReadonlyMap<string, DataDriver>>;
  /** Closes every driver (pending writes finished, locks released). */
  close(): Promise<void>;
}

/** Everything lives in one driver. */
export function singleDriverResolver(driver: DataDriver): DriverResolver {
  const all: ReadonlyMap<string, DataDriver> = new Map([['default', driver]]);
  return {
    forQueue: () => driver,
    listQueues: (project, options) => driver.queues.list(project, options),
    drivers: async () => all,
    close: () => driver.close(),
  };
}
