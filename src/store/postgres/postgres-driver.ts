import { userInfo } from 'node:os';
import pg from 'pg';
import {
  type Capability,
  type Clock,
  InvalidArgumentError,
  type Limits,
  makeLimits,
  ResettingSocket,
  StorageMisconfiguredError,
  StorageUnavailableError,
  systemClock,
} from '../../core/index.js';
import { createDataDriver, type DataDriver, type StoreObserver } from '../contract/index.js';
import { isSchemaName, migrate, quoteIdentifier } from './migrate.js';
import { describeConnection, parsePostgresUri } from './pool-uri.js';
import { PostgresEngine } from './postgres-engine.js';
import { toStorageError } from './storage-errors.js';
import { POSTGRES_TYPES } from './types.js';

/** Where the driver reports what an operator should know (a pino logger fits). */
export interface PostgresLogger {
  warn(message: string): void;
}

export interface PostgresDriverOptions {
  /** A pool URI: `postgres://user:password@host:port/database?schema=…` (see parsePostgresUri). */
  url?: string;
  /** node-postgres pool settings; merged over what `url` says. */
  pool?: pg.PoolConfig;
  /** The schema holding Posthorn's tables (created and migrated at open). Default `posthorn`. */
  schema?: string;
  clock?: Clock;
  limits?: Partial<Limits>;
  logger?: PostgresLogger;
  /**
   * 'on' (default): every session runs with synchronous_commit=on, so an acknowledged write has
   * reached the disk whatever the server's default. 'server': keep the server's setting; the
   * driver then declares DURABILITY only when that setting is durable.
   */
  synchronousCommit?: 'on' | 'server';
  /** Told how long each round trip to PostgreSQL took (the server wires its metrics here). */
  observer?: StoreObserver;
}

export const DEFAULT_POSTGRES_SCHEMA = 'posthorn';

/**
 * How long one statement may wait for its answer before the call fails with
 * StorageUnavailableError (the URI's `query_timeout`). Short on purpose: behind a partition no
 * answer comes and no error either, and a caller told 503 within seconds can go elsewhere or try
 * again, where one held for half a minute just hangs. Statements are single round trips of
 * bounded work (a page, a batch), so a healthy server answers far sooner.
 */
export const DEFAULT_POSTGRES_QUERY_TIMEOUT_MS = 5_000;
/** How long opening a connection (or waiting for a free one) may take: the URI's `connect_timeout`. */
export const DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS = 5_000;

/** Bounds that keep a call from hanging when the server or the network does. */
const POOL_DEFAULTS: pg.PoolConfig = {
  max: 10,
  connectionTimeoutMillis: DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
  query_timeout: DEFAULT_POSTGRES_QUERY_TIMEOUT_MS,
  idleTimeoutMillis: 30_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
  application_name: 'posthorn',
  // node-postgres drops a connection with a statement in flight (a timeout) by destroying its
  // socket; reset instead, so that a statement still queued in the kernel is not delivered — and
  // run — when a partition heals, after its caller was told it failed.
  stream: () => new ResettingSocket(),
};

const DURABLE_COMMIT = new Set(['on', 'local', 'remote_write', 'remote_apply']);
const MIN_SERVER_VERSION = 120000;

/**
 * Opens a PostgreSQL store: connects, checks the server (version, durability settings),
 * creates or migrates the schema, and returns the driver. A server that cannot be reached is
 * a StorageUnavailableError; later calls fail the same way while it is away, and work again
 * once it is back (the pool reconnects by itself).
 */
export async function createPostgresDriver(options: PostgresDriverOptions = {}): Promise<DataDriver> {
  const fromUrl = options.url === undefined ? undefined : parsePostgresUri(options.url);
  const schema = options.schema ?? fromUrl?.schema ?? DEFAULT_POSTGRES_SCHEMA;
  if (!isSchemaName(schema)) {
    throw new InvalidArgumentError('schema', 'must be a lowercase identifier: a-z, 0-9 and _, at most 63 characters');
  }
  const limits = makeLimits(options.limits);
  const config: pg.PoolConfig = { ...POOL_DEFAULTS, ...fromUrl?.pool, ...options.pool, types: POSTGRES_TYPES };
  // libpq's default user is the operating system's; node-postgres reads only $USER, which
  // services and containers often lack.
  if (config.user === undefined && !process.env.PGUSER && !process.env.USER) config.user = osUser();
  if ((options.synchronousCommit ?? 'on') === 'on') {
    config.options = [config.options, '-c synchronous_commit=on'].filter(Boolean).join(' ');
  }
  const where = fromUrl?.redacted ?? describeConnection(config);
  const warn = (message: string) => {
    if (options.logger) options.logger.warn(message);
    else process.emitWarning(message, 'PosthornWarning');
  };

  const pool = new pg.Pool(config);
  // An idle connection whose server went away reports here; the pool drops it and makes a new
  // one on demand. Without a listener the error would end the process.
  pool.on('error', (error) => warn(`postgres pool ${where}: an idle connection failed: ${error.message}`));
  try {
    const durable = await checkServer(pool, where, warn);
    await migrate(pool, schema);
    const capabilities = new Set<Capability>(['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT']);
    if (durable) capabilities.add('DURABILITY');
    const engine = new PostgresEngine({
      pool,
      quotedSchema: quoteIdentifier(schema),
      clock: options.clock ?? systemClock,
      capabilities,
      pipelineConfig: config,
      observer: options.observer ?? null,
    });
    return createDataDriver(engine, limits);
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof StorageUnavailableError || error instanceof StorageMisconfiguredError) {
      const Kind = error.constructor as typeof StorageUnavailableError;
      throw new Kind(`cannot open the PostgreSQL store at ${where}: ${error.message}`, { cause: error });
    }
    throw toStorageError(error, `open ${where}`);
  }
}

/** Checks the server's version and whether its commits are durable; says so when they are not. */
async function checkServer(pool: pg.Pool, where: string, warn: (message: string) => void): Promise<boolean> {
  let row: { version: number; synchronous_commit: string; fsync: string } | undefined;
  try {
    row = (
      await pool.query(
        `SELECT current_setting('server_version_num')::integer AS version,
                current_setting('synchronous_commit') AS synchronous_commit,
                current_setting('fsync') AS fsync`,
      )
    ).rows[0];
  } catch (error) {
    throw toStorageError(error, 'check the server');
  }
  if (!row) throw new StorageUnavailableError('the server did not answer its settings');
  if (row.version < MIN_SERVER_VERSION) {
    throw new StorageMisconfiguredError(`PostgreSQL ${row.version} is too old; Posthorn needs 12 or newer`);
  }
  const problems: string[] = [];
  if (!DURABLE_COMMIT.has(row.synchronous_commit)) problems.push(`synchronous_commit is ${row.synchronous_commit}`);
  if (row.fsync !== 'on') problems.push(`fsync is ${row.fsync}`);
  if (problems.length > 0) {
    warn(
      `postgres pool ${where}: ${problems.join(' and ')}, so an acknowledged write can be lost in a crash; ` +
        'the store does not declare DURABILITY',
    );
    return false;
  }
  return true;
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}
