import { type Clock, type Limits, makeLimits, systemClock } from '../../core/index.js';
import { createDataDriver, type DataDriver } from '../contract/index.js';
import { MemoryEngine } from './memory-engine.js';

export interface MemoryDriverOptions {
  clock?: Clock;
  limits?: Partial<Limits>;
}

/** A store that keeps everything in this process's memory: fast, and gone when the process ends. */
export function createMemoryDriver(options: MemoryDriverOptions = {}): DataDriver {
  return createDataDriver(new MemoryEngine(options.clock ?? systemClock), makeLimits(options.limits));
}

export { MemoryEngine } from './memory-engine.js';
