export { LATEST_SCHEMA_VERSION, type MigrateOptions, type MigrationReport, migrate } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations/index.js';
export { POSTGRES_URI_PARAMETERS, type PostgresUriSettings, parsePostgresUri } from './pool-uri.js';
export {
  createPostgresDriver,
  DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
  DEFAULT_POSTGRES_QUERY_TIMEOUT_MS,
  DEFAULT_POSTGRES_SCHEMA,
  type PostgresDriverOptions,
  type PostgresLogger,
} from './postgres-driver.js';
export { PostgresEngine } from './postgres-engine.js';
