import { RequestRefusedError, TITLES } from '../../service/index.js';

/**
 * Query parameters read the way Zaqar's web framework (falcon) reads them: a blank value is
 * the same as no value, integers and booleans that do not parse are a 400 "Invalid parameter",
 * lists are comma-separated. The service then checks ranges.
 */

export type Query = Record<string, string | string[] | undefined>;

export function stringParam(query: Query, name: string): string | undefined {
  const raw = query[name];
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return value === undefined || value === '' ? undefined : value;
}

const INTEGER = /^\s*[+-]?\d+\s*$/;

export function intParam(query: Query, name: string): number | undefined {
  const value = stringParam(query, name);
  if (value === undefined) return undefined;
  if (!INTEGER.test(value)) {
    throw new RequestRefusedError(
      name,
      `The "${name}" parameter is invalid: it must be an integer.`,
      TITLES.invalidParameter,
    );
  }
  return Number(value);
}

const TRUE = new Set(['true', 'yes', '1', 'on']);
const FALSE = new Set(['false', 'no', '0', 'off']);

export function boolParam(query: Query, name: string): boolean | undefined {
  const value = stringParam(query, name);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new RequestRefusedError(
    name,
    `The "${name}" parameter is invalid: it must be true or false.`,
    TITLES.invalidParameter,
  );
}

/** A comma-separated list; a parameter given several times (ids=a&ids=b) adds up, as in falcon. */
export function listParam(query: Query, name: string): string[] | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  const items = (Array.isArray(raw) ? raw.join(',') : raw)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? undefined : items;
}

/** Builds `?a=1&b=2` from the defined entries, as Zaqar's `next` links are built. */
export function queryString(entries: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  let out = '';
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    out += `${out === '' ? '?' : '&'}${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`;
  }
  return out;
}
