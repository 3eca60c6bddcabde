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
  checkValue(value, field, false, 0);
}

/** A message body: a JSON value or a byte array (Uint8Array), nested anywhere. */
export function checkMessageBody(value: unknown, field: string): void {
  if (value === undefined) throw new InvalidArgumentError(field, 'is missing');
  checkValue(value, field, true, 0);
}

const MAX_DEPTH = 100;

function checkValue(value: unknown, field: string, bytesAllowed: boolean, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(field, `is nested deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(field, `must not be ${value}`);
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkValue(value[i], `${field}[${i}]`, bytesAllowed, depth + 1);
        return;
      }
      if (value instanceof Uint8Array) {
        if (bytesAllowed) return;
        throw new InvalidArgumentError(field, 'must be JSON (bytes are not allowed here)');
      }
      if (!isPlainObject(value)) throw new InvalidArgumentError(field, `must be a plain value, not ${describe(value)}`);
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue; // dropped on encoding, as JSON.stringify does
        checkValue(item, `${field}.${key}`, bytesAllowed, depth + 1);
      }
      return;
    }
    default:
      throw new InvalidArgumentError(field, `must be a plain value, not ${describe(value)}`);
  }
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
