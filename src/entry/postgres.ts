/**
 * `posthorn/postgres`: the store over PostgreSQL, in a schema of its own that is created and
 * migrated at open. Needs the `pg` package (installed with Posthorn unless optional dependencies
 * were left out).
 */

export type {
  MigrateOptions,
  Migration,
  MigrationReport,
  PostgresDriverOptions,
  PostgresLogger,
  PostgresUriSettings,
} from '../store/postgres/index.js';
export { createPostgresDriver, migrate, parsePostgresUri } from '../store/postgres/index.js';
export type * from './shared-types.js';
