import { createHash } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  type Clock,
  IdentityUnavailableError,
  type Logger,
  stderrLogger,
  systemClock,
  UnauthenticatedError,
} from '../../core/index.js';
import type { Authenticator, Credentials, Identity } from './identity.js';
import type { KeystoneSettings } from './keystone-settings.js';

/** The part of a fetch Response the authenticator reads (the global Response and undici's fit). */
export interface KeystoneResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** How the authenticator talks to keystone: the shape of `fetch`, so tests can count or break it. */
export type KeystoneFetch = (
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<KeystoneResponse>;

export interface KeystoneAuthenticatorOptions {
  clock?: Clock;
  logger?: Logger;
  /** Default: undici's fetch over a keep-alive agent of its own. */
  fetch?: KeystoneFetch;
}

interface CachedToken {
  identity: Identity;
  /** Clock time after which keystone is asked again: token_cache_time, never past expiry. */
  until: number;
}

interface ServiceToken {
  token: string;
  /** Clock time from which a new one is fetched. */
  renewAt: number;
}

/** Validated tokens remembered at most; the oldest is forgotten first, so memory stays bounded. */
const MAX_CACHED_TOKENS = 10_000;
/**
 * keystoneauth renews a token that has less than this left (MIN_TOKEN_LIFE_SECONDS), so a request
 * never carries a service token that expires on its way.
 */
const SERVICE_TOKEN_MARGIN_MS = 120_000;

/**
 * The keystone strategy, as keystonemiddleware's auth_token does it for Zaqar: Posthorn logs in as
 * its own service user (password method, scoped to `project_name`), and checks each caller's
 * `X-Auth-Token` with `GET /v3/auth/tokens` (`X-Subject-Token`), taking the project, the user and
 * the role names from keystone's answer.
 *
 * Answers: no token, or one keystone does not know (404) or that is past expiry → 401 with the
 * `Keystone uri="…"` challenge; keystone unreachable, too slow, 5xx, or refusing Posthorn's own
 * service credentials even after a fresh login → 503, never 401 (the caller may be who they say).
 * The identity is the token's project; an `X-Project-ID` naming another one is judged by
 * AccessControl (403 unless the token's roles make it an admin), as for every strategy.
 *
 * Validated tokens are cached `token_cache_time` seconds but never past their expiry; like
 * keystonemiddleware, a token revoked meanwhile is honoured until its cache entry ends. Refused
 * tokens are not cached (keystonemiddleware does not either): a bad token costs one keystone
 * request each time, and a token refused during a keystone hiccup is not refused for longer.
 * Concurrent requests with the same uncached token share one validation.
 */
export class KeystoneAuthenticator implements Authenticator {
  readonly strategy = 'keystone' as const;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly fetch: KeystoneFetch;
  private readonly agent: Agent | null;
  private readonly apiUrl: string;
  private readonly challenge: string;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<Identity>>();
  private service: ServiceToken | null = null;
  private serviceLogin: Promise<ServiceToken> | null = null;

  constructor(
    private readonly settings: KeystoneSettings,
    options: KeystoneAuthenticatorOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? stderrLogger;
    this.timeoutMs = (settings.timeoutSeconds ?? 5) * 1000;
    this.cacheMs = Math.max(0, settings.tokenCacheSeconds) * 1000;
    this.apiUrl = v3Url(settings.authUrl);
    this.challenge = `Keystone uri="${settings.wwwAuthenticateUri ?? settings.authUrl}"`;
    if (options.fetch) {
      this.agent = null;
      this.fetch = options.fetch;
    } else {
      const agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: this.timeoutMs } });
      this.agent = agent;
      this.fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
    }
  }

  async authenticate(credentials: Credentials): Promise<Identity> {
    const token = credentials.token;
    if (token === undefined || token.trim() === '') {
      throw new UnauthenticatedError('this request needs a keystone token in X-Auth-Token', this.challenge);
    }
    // X-Project-ID is not looked at here: whether it may name another project than the token's is
    // the access control's decision (an admin may use any project, anyone else only the token's).
    return this.identityOf(token);
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.agent?.close();
  }

  private async identityOf(token: string): Promise<Identity> {
    // The cache is keyed by a hash, so a heap dump does not hand out usable tokens.
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.clock.now();
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (now < cached.until) return cached.identity;
      this.cache.delete(key);
    }
    let validation = this.pending.get(key);
    if (validation === undefined) {
      validation = this.validate(token).finally(() => this.pending.delete(key));
      this.pending.set(key, validation);
    }
    const identity = await validation;
    if (identity.expiresAt !== null && identity.expiresAt <= this.clock.now()) {
      throw new UnauthenticatedError('the token has expired', this.challenge);
    }
    return identity;
  }

  /** Asks keystone about a token; a fresh service login and one retry when keystone refuses ours. */
  private async validate(token: string): Promise<Identity> {
    for (let attempt = 0; ; attempt++) {
      const service = await this.serviceToken();
      const response = await this.call('GET', '/auth/tokens?nocatalog', {
        'X-Auth-Token': service.token,
        'X-Subject-Token': token,
      });
      if (response.status === 200) {
        const identity = identityFrom(await this.body(response), this.challenge);
        this.remember(token, identity);
        return identity;
      }
      await this.drain(response);
      if (response.status === 404) {
        throw new UnauthenticatedError('the token is not valid (unknown, expired or revoked)', this.challenge);
      }
      if (response.status === 401 && attempt === 0) {
        // Keystone no longer accepts our service token (revoked, or keystone's keys rotated):
        // log in again and ask once more, as keystonemiddleware does.
        if (this.service === service) this.service = null;
        continue;
      }
      throw this.unavailable(`keystone answered ${response.status} to a token validation`);
    }
  }

  private remember(token: string, identity: Identity): void {
    if (this.cacheMs === 0) return;
    const key = createHash('sha256').update(token).digest('base64url');
    const until = Math.min(this.clock.now() + this.cacheMs, identity.expiresAt ?? Number.POSITIVE_INFINITY);
    if (this.cache.size >= MAX_CACHED_TOKENS) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { identity, until });
  }

  private async serviceToken(): Promise<ServiceToken> {
    if (this.service !== null && this.clock.now() < this.service.renewAt) return this.service;
    if (this.serviceLogin === null) {
      this.serviceLogin = this.login().finally(() => {
        this.serviceLogin = null;
      });
    }
    return this.serviceLogin;
  }

  /** POST /v3/auth/tokens with the password method, scoped to project_name. */
  private async login(): Promise<ServiceToken> {
    const s = this.settings;
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: s.username, password: s.password, domain: { name: s.userDomainName } } },
        },
        scope: { project: { name: s.projectName, domain: { name: s.projectDomainName } } },
      },
    });
    const response = await this.call('POST', '/auth/tokens?nocatalog', { 'Content-Type': 'application/json' }, body);
    const token = response.headers.get('x-subject-token');
    if (response.status !== 201 || token === null) {
      await this.drain(response);
      const reason =
        response.status === 401
          ? `keystone refused Posthorn's service user ${JSON.stringify(s.username)} (check [keystone_authtoken] username, password, project_name and the domains)`
          : `keystone answered ${response.status} to Posthorn's service login`;
      throw this.unavailable(reason);
    }
    const data = await this.body(response);
    const issued = Date.parse(String(data.token?.issued_at));
    const expires = Date.parse(String(data.token?.expires_at));
    // The lifetime, not keystone's clock: a skew between the two hosts cannot make Posthorn use an
    // expired service token or log in on every request.
    const lifetime = Number.isFinite(issued) && Number.isFinite(expires) ? expires - issued : 0;
    const margin = Math.min(SERVICE_TOKEN_MARGIN_MS, lifetime / 2);
    const service = { token, renewAt: this.clock.now() + lifetime - margin };
    this.service = service;
    return service;
  }

  /** One request to keystone, bounded by the timeout; any failure to get an answer is a 503. */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<KeystoneResponse> {
    try {
      return await this.fetch(`${this.apiUrl}${path}`, {
        method,
        headers: { Accept: 'application/json', ...headers },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw this.unavailable(`keystone at ${this.apiUrl} did not answer`, error);
    }
  }

  private async body(response: KeystoneResponse): Promise<KeystoneTokenBody> {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.unavailable("keystone's answer broke off", error);
    }
    try {
      return JSON.parse(text) as KeystoneTokenBody;
    } catch (error) {
      throw this.unavailable('keystone answered with a body that is not JSON', error);
    }
  }

  private async drain(response: KeystoneResponse): Promise<void> {
    await response.text().catch(() => '');
  }

  /** The why (a refused connection, a timeout...) stays the cause's, and the log line shows it. */
  private unavailable(reason: string, cause?: unknown): IdentityUnavailableError {
    this.logger.warn(
      { auth_url: this.settings.authUrl, reason, ...(cause === undefined ? {} : { err: cause }) },
      'keystone cannot validate tokens now',
    );
    return new IdentityUnavailableError(
      `the identity service is not available: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
  }
}

interface KeystoneTokenBody {
  token?: {
    issued_at?: unknown;
    expires_at?: unknown;
    user?: { id?: unknown };
    project?: { id?: unknown };
    roles?: { name?: unknown }[];
  };
}

/** The identity in keystone's 200 answer; a token with no project scope cannot name a tenant. */
function identityFrom(data: KeystoneTokenBody, challenge: string): Identity {
  const token = data.token;
  const project = token?.project?.id;
  const user = token?.user?.id;
  const expiresAt = Date.parse(String(token?.expires_at));
  if (typeof user !== 'string' || !Number.isFinite(expiresAt) || !Array.isArray(token?.roles)) {
    throw new IdentityUnavailableError('the identity service answered with a token body it does not describe');
  }
  if (typeof project !== 'string') {
    // keystonemiddleware: "Unable to determine service tenancy" is an invalid token (401).
    throw new UnauthenticatedError('the token is not scoped to a project', challenge);
  }
  const roles = token.roles.map((role) => role.name).filter((name): name is string => typeof name === 'string');
  return { project, user, roles, expiresAt, strategy: 'keystone' };
}

/** `http://host:5000`, `…/v3` and `…/v3/` all mean the v3 API of that keystone. */
function v3Url(authUrl: string): string {
  const trimmed = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}
