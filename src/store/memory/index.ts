import { type Clock, type Limits, makeLimits, systemClock } from '../../core/index.js';
import { createDataDriver, type DataDriver, type StoreObserver } from '../contract/index.js';
import { MemoryEngine } from './memory-engine.js';

export interface MemoryDriverOptions {
  clock?: Clock;
  limits?: Partial<Limits>;
  /** Told of dead-letter moves and expired messages (the server wires its metrics here). */
  observer?: StoreObserver;
}

/** A store that keeps everything in this process's memory: fast, and gone when the process ends. */
export function createMemoryDriver(options: MemoryDriverOptions = {}): DataDriver {
  const engine = new MemoryEngine(options.clock ?? systemClock);
  if (options.observer) engine.observe(options.observer);
  return createDataDriver(engine, makeLimits(options.limits));
}

export { MemoryEngine } from './memory-engine.js';
