import { InvalidArgumentError, isPlainObject } from '../core/index.js';

/**
 * Readers of single settings, shared by every part of the server's configuration. A value may
 * come from the config file (typed) or from an environment variable (a string), so numbers and
 * flags accept both; anything else is an InvalidArgumentError naming the setting.
 */

/** An environment variable's value; unset and empty are both undefined (so the file's value or the default applies). */
export function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function fail(field: string, reason: string): never {
  throw new InvalidArgumentError(`config ${field}`, reason);
}

/** A table whose keys must all be known settings; absent is an empty table. */
export function section(
  value: unknown,
  field: string,
  known: Set<string> | Map<string, unknown>,
): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) fail(field, 'must be a table of settings');
  for (const key of Object.keys(value)) {
    if (!known.has(key)) fail(`${field}.${key}`, 'is not a setting Posthorn knows');
  }
  return value;
}

export function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    fail(field, `must be a non-empty string, not ${JSON.stringify(value)}`);
  return value;
}

export function flag(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  fail(field, `must be true or false, not ${JSON.stringify(value)}`);
}

/** A whole number from min to max (a string of digits counts, as environment variables are). */
export function whole(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    fail(field, `must be a whole number ${range}, not ${JSON.stringify(value)}`);
  }
  return n;
}
