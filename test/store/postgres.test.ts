import { conformanceCases, runConformance } from '../../src/conformance/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';

await withPostgres('conformance: postgres', () => {
  const schema = freshSchema('conformance');
  runConformance(
    {
      name: 'postgres',
      open: (clock) => createPostgresDriver({ url: DATABASE_URL, schema, clock }),
      async reopen(driver, clock) {
        await driver.close();
        return createPostgresDriver({ url: DATABASE_URL, schema, clock });
      },
      cleanup: () => dropSchema(schema),
    },
    conformanceCases,
  );
});
