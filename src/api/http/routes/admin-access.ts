import type { FastifyRequest } from 'fastify';
import { AdminToken } from '../../../service/index.js';
import { HttpError } from '../../shared/index.js';

/** The header an admin request carries its token in. */
export const ADMIN_TOKEN_HEADER = 'x-admin-token';

/**
 * The admin API's check over HTTP (service/admin-token.ts says who passes). Refusals are 403s, as
 * Zaqar's policy checks answer.
 */
export function adminCheck(token: string | null): (request: FastifyRequest) => void {
  const admin = new AdminToken(token);
  return function requireAdmin(request: FastifyRequest): void {
    // The guard granted it already: an admin role, or the admin token under any strategy.
    if (request.access?.admin === true) return;
    const refusal = admin.refusal(presented(request));
    if (refusal !== null) throw new HttpError(403, 'Not authorized', refusal);
  };
}

/** The check of a private endpoint (health): the admin token when one is configured, else open. */
export function privateCheck(token: string | null): (request: FastifyRequest) => void {
  const admin = new AdminToken(token);
  return function requirePrivate(request: FastifyRequest): void {
    if (request.access?.admin === true) return;
    const refusal = admin.privateRefusal(presented(request));
    if (refusal !== null) throw new HttpError(403, 'Not authorized', refusal);
  };
}

function presented(request: FastifyRequest): string | undefined {
  const raw = request.headers[ADMIN_TOKEN_HEADER];
  return Array.isArray(raw) ? raw[raw.length - 1] : raw;
}
