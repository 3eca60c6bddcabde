import type { Dispatcher } from 'undici';
import { IdentityUnavailableError, UnauthenticatedError } from '../core/errors.js';
import type { SignedUrl } from './types.js';

/**
 * How the client proves who it is, one shape per strategy of the server:
 * - none (noauth): the project travels in `X-Project-Id`, trusted as it is;
 * - `{ token }` / `{ apiKey }`: Posthorn's tokens (a JWT of `posthorn token create`, or an API
 *   key of `[[token.keys]]`) or any static keystone token, sent as `Authorization: Bearer` and
 *   `X-Auth-Token` (the server reads either);
 * - `{ keystone }`: a user's password, traded for a token at keystone v3, cached until shortly
 *   before it expires and traded again once when the server answers 401 (a revoked token);
 * - `{ signedUrl }`: a pre-signed URL of `queue.share()`, which needs no credential at all.
 */
export type ClientAuth =
  | { token: string }
  | { apiKey: string }
  | { keystone: KeystoneCredentials }
  | { signedUrl: SignedUrl };

export interface KeystoneCredentials {
  /** Keystone's identity endpoint, with or without `/v3`. */
  url: string;
  username: string;
  password: string;
  /** The project (name) to scope the token to. */
  project: string;
  /** The domain (name) of the user and the project; "Default" when omitted. */
  domain?: string;
}

/** What a request needs from the strategy. */
export interface RequestAuth {
  /** Headers to send; awaited per request, so a token is fetched only when first needed. */
  headers(): Promise<Record<string, string>>;
  /**
   * Called once when the server answered 401 to a request sent with `sent` (its auth headers):
   * true when a fresh credential will be used and the request is worth one more try.
   */
  renew(sent: Record<string, string>): Promise<boolean>;
  /**
   * The project requests run in, where the client can know it: the one configured, a JWT's
   * `project` claim, keystone's scoped project. The WebSocket API's authenticate needs it named.
   */
  project(): Promise<string | undefined>;
}

const NO_RENEWAL = async () => false;

/** The `project` claim of a Posthorn JWT (read, not verified: the server verifies it). */
export function projectOfJwt(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { project?: unknown };
    return typeof claims.project === 'string' ? claims.project : undefined;
  } catch {
    return undefined;
  }
}

/** The request auth of `auth` for a client of `project` (undefined: noauth). */
export function requestAuth(
  auth: ClientAuth | undefined,
  project: string | undefined,
  dispatcher: Dispatcher,
  now: () => number = Date.now,
): RequestAuth {
  const projectHeader: Record<string, string> = project === undefined ? {} : { 'x-project-id': project };
  const named = async () => project;
  if (auth === undefined) return { headers: async () => projectHeader, renew: NO_RENEWAL, project: named };
  if ('signedUrl' in auth) {
    const s = auth.signedUrl;
    const headers = {
      'url-signature': s.signature,
      'url-expires': s.expires,
      'url-methods': s.methods.join(','),
      'url-paths': s.paths.join(','),
      'x-project-id': s.project,
    };
    return { headers: async () => headers, renew: NO_RENEWAL, project: async () => s.project };
  }
  if ('keystone' in auth) return new KeystoneAuth(auth.keystone, project, dispatcher, now);
  const token = 'token' in auth ? auth.token : auth.apiKey;
  const headers = { ...projectHeader, authorization: `Bearer ${token}`, 'x-auth-token': token };
  const claimed = project ?? projectOfJwt(token);
  return { headers: async () => headers, renew: NO_RENEWAL, project: async () => claimed };
}

/** A token is traded again this long before keystone says it expires, so it does not expire in flight. */
const EXPIRY_MARGIN_MS = 60_000;

interface KeystoneToken {
  token: string;
  projectId: string | undefined;
  /** When to stop using it (its expiry less the margin), ms since the epoch. */
  renewAt: number;
}

/** Password authentication at keystone v3, its token cached and shared by concurrent requests. */
export class KeystoneAuth implements RequestAuth {
  private current: Promise<KeystoneToken> | null = null;
  /** How many tokens keystone issued to this client (tests read it). */
  issued = 0;

  constructor(
    private readonly credentials: KeystoneCredentials,
    private readonly scopedProject: string | undefined,
    private readonly dispatcher: Dispatcher,
    private readonly now: () => number = Date.now,
  ) {}

  async headers(): Promise<Record<string, string>> {
    const { token, projectId } = await this.token();
    const project = this.scopedProject ?? projectId;
    return { 'x-auth-token': token, ...(project === undefined ? {} : { 'x-project-id': project }) };
  }

  /**
   * The cached token while it is fresh, else one new exchange that every request waiting at
   * that moment shares. A token just issued is used even when it is already inside the margin
   * (a keystone with short tokens), so a request never waits on exchanges forever.
   */
  private async token(): Promise<KeystoneToken> {
    const cached = this.current;
    if (cached !== null) {
      const held = await cached.catch(() => null);
      if (held !== null && held.renewAt > this.now()) return held;
      if (this.current === cached) this.current = null;
    }
    if (this.current === null) {
      const pending = this.authenticate();
      this.current = pending;
      // A failed exchange is not cached: the next request tries again.
      pending.catch(() => {
        if (this.current === pending) this.current = null;
      });
    }
    return this.current;
  }

  /** Drops the token the server refused, unless another request has already replaced it. */
  async renew(sent: Record<string, string>): Promise<boolean> {
    const cached = this.current;
    if (cached === null) return true;
    const held = await cached.catch(() => null);
    if (held !== null && held.token !== sent['x-auth-token']) return true;
    if (this.current === cached) this.current = null;
    return true;
  }

  async project(): Promise<string | undefined> {
    if (this.scopedProject !== undefined) return this.scopedProject;
    return (await this.token()).projectId;
  }

  private async authenticate(): Promise<KeystoneToken> {
    const { url, username, password, project } = this.credentials;
    const domain = { name: this.credentials.domain ?? 'Default' };
    const base = url.replace(/\/+$/, '');
    const endpoint = new URL(`${base}${/\/v3$/.test(base) ? '' : '/v3'}/auth/tokens`);
    const body = JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: username, domain, password } } },
        scope: { project: { name: project, domain } },
      },
    });
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.dispatcher.request({
        origin: endpoint.origin,
        path: endpoint.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
      });
    } catch (cause) {
      throw new IdentityUnavailableError(`keystone at ${endpoint.origin} cannot be reached`, { cause });
    }
    const text = await answer.body.text();
    if (answer.statusCode === 401 || answer.statusCode === 403) {
      throw new UnauthenticatedError(`keystone refused the credentials of ${JSON.stringify(username)}: ${text}`);
    }
    const subject = answer.headers['x-subject-token'];
    const token = Array.isArray(subject) ? subject[0] : subject;
    if (answer.statusCode !== 201 || token === undefined) {
      throw new IdentityUnavailableError(`keystone answered ${answer.statusCode} without a token: ${text}`);
    }
    let expiresAt = Number.POSITIVE_INFINITY;
    let projectId: string | undefined;
    try {
      const doc = JSON.parse(text) as { token?: { expires_at?: string; project?: { id?: string } } };
      const parsed = Date.parse(doc.token?.expires_at ?? '');
      if (Number.isFinite(parsed)) expiresAt = parsed;
      projectId = doc.token?.project?.id;
    } catch {
      // A token without a readable document is used until the server refuses it.
    }
    this.issued++;
    return { token, projectId, renewAt: expiresAt - EXPIRY_MARGIN_MS };
  }
}
