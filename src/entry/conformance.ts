/**
 * `posthorn/conformance`: the storage contract's definition as tests. A driver is a driver when it
 * passes every case: `runConformance({ name, open }, conformanceCases)` registers them with
 * node:test (run the file with `node --test`). Needs `fast-check`.
 */

export type { CaseContext, ConformanceCase, ConformanceTarget } from '../conformance/index.js';
export { conformanceCases, rejectsWith, runCase, runConformance } from '../conformance/index.js';
export { FakeClock } from '../core/index.js';
export type * from './shared-types.js';
