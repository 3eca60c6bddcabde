import type pg from 'pg';
import { InvalidArgumentError } from '../../core/index.js';
import { isSchemaName } from './migrate.js';

/** What a `postgres://` pool URI says, ready for createPostgresDriver. */
export interface PostgresUriSettings {
  /** Connection and pool settings for node-postgres. */
  pool: pg.PoolConfig;
  /** The schema named by `?schema=`, when given. */
  schema?: string;
  /** The URI with its password replaced by `***`, safe for logs and error messages. */
  redacted: string;
}

/** Query parameters a pool URI may carry; anything else is refused so typos do not pass silently. */
export const POSTGRES_URI_PARAMETERS = [
  'schema',
  'host',
  'sslmode',
  'application_name',
  'connect_timeout',
  'pool_size',
  'statement_timeout',
  'query_timeout',
] as const;

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * Parses `postgres://user:password@host:port/database?schema=…&pool_size=…` (or `postgresql://`).
 * User and password may be percent-encoded; `?host=/run/postgresql` names a Unix socket folder.
 * Throws InvalidArgumentError (field `uri`) for anything malformed, never echoing the password.
 */
export function parsePostgresUri(uri: string): PostgresUriSettings {
  if (typeof uri !== 'string' || uri.length === 0) throw new InvalidArgumentError('uri', 'must be a non-empty string');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidArgumentError('uri', `is not a URI: ${redactText(uri)}`);
  }
  const redacted = redactUrl(url);
  const refuse = (reason: string): never => {
    throw new InvalidArgumentError('uri', `${reason} (${redacted})`);
  };
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    refuse('must start with postgres:// or postgresql://');
  }
  if (url.hash) refuse('must not have a #fragment');
  if (url.hostname.includes(',')) refuse('lists several hosts, which this driver does not support');

  const pool: pg.PoolConfig = {};
  const decode = (text: string, what: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      return refuse(`has a badly encoded ${what}`);
    }
  };
  if (url.hostname) pool.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.port) pool.port = Number(url.port);
  if (url.username) pool.user = decode(url.username, 'user');
  if (url.password) pool.password = decode(url.password, 'password');
  const path = url.pathname.replace(/^\//, '');
  if (path.includes('/')) refuse('has a path with more than a database name');
  if (path) pool.database = decode(path, 'database name');

  let schema: string | undefined;
  const seen = new Set<string>();
  for (const [key, value] of url.searchParams) {
    if (seen.has(key)) refuse(`repeats the parameter ${key}`);
    seen.add(key);
    switch (key) {
      case 'schema':
        if (!isSchemaName(value)) refuse('has a schema that is not a lowercase identifier (a-z, 0-9, _)');
        schema = value;
        break;
      case 'host':
        if (!value) refuse('has an empty host parameter');
        pool.host = value;
        break;
      case 'sslmode':
        if (!SSL_MODES.includes(value))
          refuse(`has sslmode ${JSON.stringify(value)}; use one of ${SSL_MODES.join(', ')}`);
        // prefer/allow cannot fall back to plain text in node-postgres; they ask for TLS without
        // verifying it, as require does. verify-* check the certificate against the system CAs.
        pool.ssl = value === 'disable' ? false : value.startsWith('verify') ? true : { rejectUnauthorized: false };
        break;
      case 'application_name':
        pool.application_name = value;
        break;
      case 'connect_timeout':
        pool.connectionTimeoutMillis = 1000 * positiveInteger(key, value, refuse);
        break;
      case 'pool_size':
        pool.max = positiveInteger(key, value, refuse);
        break;
      case 'statement_timeout':
        pool.statement_timeout = positiveInteger(key, value, refuse);
        break;
      case 'query_timeout':
        pool.query_timeout = positiveInteger(key, value, refuse);
        break;
      default:
        refuse(`has the unknown parameter ${JSON.stringify(key)}; known: ${POSTGRES_URI_PARAMETERS.join(', ')}`);
    }
  }
  return { pool, ...(schema !== undefined ? { schema } : {}), redacted };
}

function positiveInteger(key: string, value: string, refuse: (reason: string) => never): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    refuse(`has ${key}=${JSON.stringify(value)}, not a positive integer`);
  return Number(value);
}

function redactUrl(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

/** Hides anything between '://user:' and '@' in text that did not parse as a URL. */
function redactText(text: string): string {
  return text.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** A pool's settings described for people: host, port, database and user, never the password. */
export function describeConnection(pool: pg.PoolConfig): string {
  const host = pool.host ?? 'localhost';
  const port = pool.port ?? 5432;
  return `postgres://${pool.user ? `${pool.user}@` : ''}${host.includes(':') ? `[${host}]` : host}:${port}/${pool.database ?? ''}`;
}
