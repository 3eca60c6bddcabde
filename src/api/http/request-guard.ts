import type { FastifyRequest } from 'fastify';
import type { Access, AccessControl, PolicyAction, QueueService } from '../../service/index.js';
import { HttpError } from '../shared/index.js';

/** Who asks, read once per request by the guard. */
export interface RequestIdentity {
  project: string;
  clientId: string;
}

/** What the guard checks of a route: its policy action, and whether it runs in a project. */
export interface GuardedRoute {
  action: PolicyAction;
  /** False for routes that need no Client-ID or project (pools, flavors): only the credential is checked. */
  identity: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard on every versioned route. */
    identity: RequestIdentity | null;
    /** Who the request runs as and whether it may use admin actions; set by the guard. */
    access: Access | null;
  }
}

const FORM = 'application/x-www-form-urlencoded';
const FORM_PATTERN = /x-www-form-urlencoded/i;

/** True when an Accept header allows application/json (no header allows anything). */
export function acceptsJson(accept: string | undefined): boolean {
  // What nearly every client sends, answered without parsing.
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json') return true;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';');
    const media = type.trim().toLowerCase();
    if (media !== 'application/json' && media !== 'application/*' && media !== '*/*') continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * The checks every versioned request passes before its route runs, in Zaqar's order: a
 * presented pre-signed URL must verify (else 404, revealing nothing), a form-encoded body is
 * refused, the client must accept JSON, and the Client-ID and X-Project-ID must be valid. Throws
 * the refusal; on success sets `request.identity`.
 */
export function createRequestGuard(
  service: QueueService,
  access: AccessControl,
): (request: FastifyRequest, route: GuardedRoute) => Promise<void> {
  return async function guard(request: FastifyRequest, route: GuardedRoute): Promise<void> {
    const headers = request.headers;
    const signature = headers['url-signature'];
    let signed = false;
    if (typeof signature === 'string' && signature !== '') {
      const url = request.url;
      const q = url.indexOf('?');
      const valid = service.verifySignature({
        signature,
        expires: header(headers['url-expires']),
        methods: header(headers['url-methods']),
        paths: header(headers['url-paths']),
        project: header(headers['x-project-id']),
        method: request.method,
        path: q === -1 ? url : url.slice(0, q),
      });
      if (!valid) throw new HttpError(404, 'Not found', 'The pre-signed URL does not allow this request.');
      signed = true;
    }
    const contentType = headers['content-type'];
    if (
      contentType !== undefined &&
      FORM_PATTERN.test(contentType) &&
      (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) &&
      contentType.split(';')[0]?.trim().toLowerCase() === FORM
    ) {
      throw new HttpError(
        400,
        'Invalid Content-Type',
        'This endpoint does not accept application/x-www-form-urlencoded bodies; send application/json.',
      );
    }
    if (!acceptsJson(headers.accept)) {
      throw new HttpError(
        406,
        'Media type not acceptable',
        'This endpoint only serves application/json; say so in the Accept header.',
      );
    }
    const clientId = route.identity ? service.checkClientId(header(headers['client-id'])) : '';
    const granted = await access.authorize({
      action: route.action,
      credentials: { token: tokenOf(headers), projectId: header(headers['x-project-id']) },
      adminToken: header(headers['x-admin-token']),
      signed,
      needsProject: route.identity,
    });
    request.access = granted;
    // Charged once the project is known and allowed: a refused credential spends nobody's share.
    if (route.identity) await service.fairShare?.admitRequest(granted.identity.project);
    if (route.identity) request.identity = { project: granted.identity.project, clientId };
  };
}

/** The credential: `X-Auth-Token` (keystone's header), else the bearer token of `Authorization`. */
function tokenOf(headers: FastifyRequest['headers']): string | undefined {
  const token = header(headers['x-auth-token']);
  if (token !== undefined) return token;
  const authorization = header(headers.authorization);
  if (authorization === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match === null ? undefined : match[1];
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** The identity the guard set; routes without one are a programming error. */
export function identityOf(request: FastifyRequest): RequestIdentity {
  const identity = request.identity;
  if (identity === null) throw new Error('route ran without the request guard');
  return identity;
}
