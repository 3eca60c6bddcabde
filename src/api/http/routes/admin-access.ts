import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

/** The header an admin request carries its token in. */
export const ADMIN_TOKEN_HEADER = 'x-admin-token';

/**
 * Who may call the admin API (pools, flavors, moves): requests whose X-Admin-Token header equals
 * the configured `[admin] token`. Without a configured token every admin request is refused, so an
 * operator has to choose to open it. The comparison takes the same time whatever the header holds
 * (both sides are hashed to equal lengths first). Refusals are 403s, as Zaqar's policy checks
 * answer; the auth work of a later issue replaces this check.
 */
export function adminCheck(token: string | null): (request: FastifyRequest) => void {
  const expected = token === null ? null : digest(token);
  return function requireAdmin(request: FastifyRequest): void {
    if (expected === null) {
      throw new HttpError(
        403,
        'Not authorized',
        'The admin API is disabled: set [admin] token (or POSTHORN_ADMIN_TOKEN) and send it in X-Admin-Token.',
      );
    }
    const raw = request.headers[ADMIN_TOKEN_HEADER];
    const given = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (given === undefined || given === '' || !timingSafeEqual(digest(given), expected)) {
      throw new HttpError(403, 'Not authorized', 'This request needs the admin token in the X-Admin-Token header.');
    }
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
