import { InvalidArgumentError, isPosthornError, StorageFullError, StorageUnavailableError } from '../../core/index.js';

/**
 * What a failure of PostgreSQL means to a caller. Everything the server or the connection
 * throws becomes a typed error, so the layers above answer 503 (or 507) instead of crashing,
 * and the original error rides along as `cause` for the logs.
 */

/** The SQLSTATE our own functions raise when the queue they were given does not exist. */
export const QUEUE_MISSING_SQLSTATE = 'PH404';

/** A pg error as node-postgres hands it over: an Error with the server's SQLSTATE in `code`. */
export interface PgErrorLike extends Error {
  code?: string;
}

export function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as PgErrorLike).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Turns whatever a query threw into a Posthorn error; `operation` names what was attempted. */
export function toStorageError(error: unknown, operation: string): Error {
  if (isPosthornError(error)) return error;
  const state = sqlState(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (state === undefined) {
    // No SQLSTATE: the connection failed (refused, reset, timed out, terminated) before or while
    // the server answered.
    return new StorageUnavailableError(`PostgreSQL cannot be reached (${operation}): ${detail}`, { cause: error });
  }
  if (state === '53100') {
    return new StorageFullError(`PostgreSQL is out of disk space (${operation}): ${detail}`, { cause: error });
  }
  if (state === '22021' || state === '22P05') {
    return new InvalidArgumentError('text', `holds characters PostgreSQL cannot store: ${detail}`, { cause: error });
  }
  const why = UNAVAILABLE_CLASSES[state.slice(0, 2)] ?? UNAVAILABLE_STATES[state] ?? 'refused the operation';
  return new StorageUnavailableError(`PostgreSQL ${why} (${operation}): ${detail} [${state}]`, { cause: error });
}

const UNAVAILABLE_CLASSES: Record<string, string> = {
  '08': 'lost the connection',
  '53': 'is out of resources',
  '57': 'is shutting down or restarting',
  '58': 'had a system error',
  '40': 'aborted a conflicting transaction; retry',
};

const UNAVAILABLE_STATES: Record<string, string> = {
  '25006': 'is read-only (a standby?)',
  '55P03': 'could not take a lock in time',
};

const NUL = '\u0000';
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * PostgreSQL's text cannot hold NUL, and a lone UTF-16 surrogate would be stored as U+FFFD —
 * two different project ids could then meet in one row. Refused up front, naming the field.
 */
export function checkStorableText(value: string, field: string): string {
  if (value.includes(NUL)) throw new InvalidArgumentError(field, 'must not contain NUL characters');
  if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(field, 'must be well-formed Unicode');
  return value;
}
