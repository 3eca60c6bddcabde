import { ALL_CAPABILITIES, type Capability, type Limits, StorageUnavailableError } from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';

/**
 * The stand-in for a pool whose store cannot be opened right now (its server is down, or the pool
 * was deleted while queues still live in it): every operation fails with StorageUnavailableError
 * (HTTP 503, "try again"), and isAlive answers false, so health reports show the pool as
 * unreachable. The catalog hands it out only for reports; requests get the error itself.
 */
export function unavailableDriver(pool: string, reason: string, limits: Limits): DataDriver {
  const fail = async (): Promise<never> => {
    throw new StorageUnavailableError(`pool ${JSON.stringify(pool)} is unavailable: ${reason}`);
  };
  return {
    kind: 'unavailable',
    capabilities: new Set<Capability>(ALL_CAPABILITIES),
    limits,
    queues: {
      create: fail,
      exists: fail,
      getMetadata: fail,
      setMetadata: fail,
      delete: fail,
      list: fail,
      stats: fail,
    },
    messages: {
      post: fail,
      list: fail,
      first: fail,
      get: fail,
      bulkGet: fail,
      delete: fail,
      bulkDelete: fail,
      pop: fail,
    },
    claims: { create: fail, get: fail, update: fail, delete: fail },
    subscriptions: {
      create: fail,
      list: fail,
      get: fail,
      getBySubscriber: fail,
      exists: fail,
      update: fail,
      delete: fail,
      confirm: fail,
    },
    isAlive: async () => false,
    gc: fail,
    close: async () => {},
  };
}
