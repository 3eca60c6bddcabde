import { silentLogger } from '../../src/core/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from '../store/postgres-support.js';
import { REDIS_URL, redisAnswers, suiteNeeding, uniquePrefix } from '../store/redis/support.js';
import { workerCases } from './worker-cases.js';

// The same Worker cases as over memory and disk, over the real servers: their stores take time
// from the same FakeClock (they compute expiry from the `now` the driver passes), so a lease
// expires exactly when the test moves the clock.
const reachable = await redisAnswers(REDIS_URL);
suiteNeeding('worker over redis', reachable ? null : `no Redis answers at ${REDIS_URL}`, () => {
  workerCases({
    name: 'redis',
    open: (clock) => createRedisDriver({ url: REDIS_URL, clock, keyPrefix: uniquePrefix(), logger: silentLogger }),
  });
});

const schema = freshSchema('worker');
await withPostgres('worker over postgres', () => {
  workerCases({
    name: 'postgres',
    open: (clock) => createPostgresDriver({ url: DATABASE_URL, schema, clock }),
    cleanup: () => dropSchema(schema),
  });
});
