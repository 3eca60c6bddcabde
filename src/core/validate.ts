import { InvalidArgumentError, LimitExceededError } from './errors.js';
import { type Limits, QUEUE_NAME_PATTERN } from './limits.js';

/**
 * Argument checks shared by every layer. Each throws InvalidArgumentError (or
 * LimitExceededError) naming the bad field, so a caller learns exactly what to fix.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function checkString(value: unknown, field: string, maxLength = Number.POSITIVE_INFINITY): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(field, `must be a string, not ${describe(value)}`);
  if (value.length > maxLength) throw new InvalidArgumentError(field, `must be at most ${maxLength} characters`);
  return value;
}

export function checkNonEmptyString(value: unknown, field: string, maxLength = Number.POSITIVE_INFINITY): string {
  const text = checkString(value, field, maxLength);
  if (text.length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  return text;
}

/** A project id: any string up to the limit; '' is the global project. */
export function checkProject(value: unknown, limits: Limits, field = 'project'): string {
  return checkString(value, field, limits.maxProjectIdLength);
}

export function checkQueueName(value: unknown, limits: Limits, field = 'queue'): string {
  const name = checkNonEmptyString(value, field);
  if (name.length > limits.maxQueueNameLength) {
    throw new InvalidArgumentError(field, `must be at most ${limits.maxQueueNameLength} characters`);
  }
  if (!QUEUE_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(field, 'may contain only letters, digits, "_", "-" and "."');
  }
  return name;
}

export function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArgumentError(field, `must be an integer, not ${describe(value)}`);
  }
  if (value < min || value > max) throw new InvalidArgumentError(field, `must be between ${min} and ${max}`);
  return value;
}

/** A count of items asked for at once (page size, claim size, ids): 1..max. */
export function checkCount(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArgumentError(field, `must be an integer, not ${describe(value)}`);
  }
  if (value < 1) throw new InvalidArgumentError(field, 'must be at least 1');
  if (value > max) throw new LimitExceededError(field, max, value);
  return value;
}

export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(field, `must be a boolean, not ${describe(value)}`);
  return value;
}

/** A list of ids: an array of non-empty strings, at most `max` of them. */
export function checkIdList(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(field, `must be an array, not ${describe(value)}`);
  if (value.length > max) throw new LimitExceededError(field, max, value.length);
  for (let i = 0; i < value.length; i++) checkNonEmptyString(value[i], `${field}[${i}]`, 256);
  return value as string[];
}

/** Queue metadata: a plain JSON object no larger than the limit once serialized. */
export function checkQueueMetadata(value: unknown, limits: Limits, field = 'metadata'): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidArgumentError(field, `must be an object, not ${describe(value)}`);
  checkJsonValue(value, field);
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > limits.maxQueueMetadataSize)
    throw new LimitExceededError(`${field} size`, limits.maxQueueMetadataSize, size);
  return value;
}

/** A value JSON can carry exactly: null, booleans, finite numbers, strings, arrays and plain objects. */
export function checkJsonValue(value: unknown, field: string): void {
  const bad = findBadValue(value, false, 0);
  if (bad) throw new InvalidArgumentError(fieldPath(field, bad.path), bad.reason);
}

/** Whether checkMessageBody() would take the value (without naming anything). */
export function isMessageBody(value: unknown): boolean {
  return value !== undefined && findBadValue(value, true, 0) === null;
}

/** A message body: a JSON value or a byte array (Uint8Array), nested anywhere. */
export function checkMessageBody(value: unknown, field: string): void {
  if (value === undefined) throw new InvalidArgumentError(field, 'is missing');
  const bad = findBadValue(value, true, 0);
  if (bad) throw new InvalidArgumentError(fieldPath(field, bad.path), bad.reason);
}

const MAX_DEPTH = 100;

interface BadValue {
  /** Keys and indexes from the checked value down to the bad one, innermost first. */
  path: (string | number)[];
  reason: string;
}

/**
 * The first value that is not a plain value, or null. Paths are built only for the bad value:
 * bodies are checked on every post, and naming every good field on the way would cost more
 * than the check itself.
 */
function findBadValue(value: unknown, bytesAllowed: boolean, depth: number): BadValue | null {
  if (depth > MAX_DEPTH) return { path: [], reason: `is nested deeper than ${MAX_DEPTH} levels` };
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : { path: [], reason: `must not be ${value}` };
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const bad = findBadValue(value[i], bytesAllowed, depth + 1);
          if (bad) {
            bad.path.push(i);
            return bad;
          }
        }
        return null;
      }
      if (value instanceof Uint8Array) {
        return bytesAllowed ? null : { path: [], reason: 'must be JSON (bytes are not allowed here)' };
      }
      if (!isPlainObject(value)) return { path: [], reason: `must be a plain value, not ${describe(value)}` };
      for (const key in value) {
        const item = value[key];
        if (item === undefined) continue; // dropped on encoding, as JSON.stringify does
        const bad = findBadValue(item, bytesAllowed, depth + 1);
        if (bad) {
          bad.path.push(key);
          return bad;
        }
      }
      return null;
    }
    default:
      return { path: [], reason: `must be a plain value, not ${describe(value)}` };
  }
}

function fieldPath(field: string, innermostFirst: (string | number)[]): string {
  let path = field;
  for (let k = innermostFirst.length - 1; k >= 0; k--) {
    const part = innermostFirst[k] as string | number;
    path += typeof part === 'number' ? `[${part}]` : `.${part}`;
  }
  return path;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}
