import { randomFillSync } from 'node:crypto';

/**
 * Ids of messages, claims and subscriptions: 32 lowercase hex characters, the first 12 the
 * creation time in milliseconds (so ids made later sort later, which helps people reading
 * logs), the other 20 random (80 bits, so ids made by many processes at once do not collide).
 */

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

export function newId(nowMs: number = Date.now()): string {
  return Math.floor(nowMs).toString(16).padStart(12, '0').slice(-12) + randomHex(10);
}

const ID_PATTERN = /^[0-9a-f]{32}$/;

/** True when `value` has the shape of an id made by newId. */
export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
