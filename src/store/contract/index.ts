export type * from './driver.js';
export type * from './engine.js';
export { createDataDriver, MAX_SUBSCRIBER_LENGTH } from './guard.js';
export { ageSeconds, type DeadLetterPolicy, deadLetterPolicy, queueMatches, sameJson } from './semantics.js';
export type { StoreObserver } from './store-observer.js';
