import { createHash, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { UnauthenticatedError } from '../../core/index.js';
import type { Authenticator, Credentials, Identity } from './identity.js';

/** An API key of `[[token.keys]]`: the sha256 (hex) of the key, and what it grants. */
export interface ApiKey {
  hash: string;
  project: string;
  roles: readonly string[];
}

export interface TokenSettings {
  /** The HS256 secret JWTs are signed with (`[token] secret`); null: only API keys are accepted. */
  secret: string | null;
  keys: readonly ApiKey[];
}

/** What a 401 of this strategy tells the client to send. */
export const BEARER_CHALLENGE = 'Bearer realm="posthorn"';

/** The issuer and audience every Posthorn token carries, so a JWT made for something else with the same secret is refused. */
export const TOKEN_ISSUER = 'posthorn';
export const TOKEN_AUDIENCE = 'posthorn';

/**
 * `auth_strategy = "token"`: Posthorn's own bearer tokens, for deployments without keystone.
 * A credential is either a JWT (HS256, signed with `[token] secret`, carrying `project`, `roles`
 * and `exp`) or an API key whose sha256 is listed in `[[token.keys]]`. The project comes from the
 * credential; whether another X-Project-ID may be named is the access control's decision (admins only).
 */
export class TokenAuthenticator implements Authenticator {
  readonly strategy = 'token' as const;
  private readonly secret: Uint8Array | null;
  private readonly keys: { digest: Buffer; key: ApiKey }[];

  constructor(
    settings: TokenSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = settings.secret === null ? null : new TextEncoder().encode(settings.secret);
    this.keys = settings.keys.map((key) => ({ digest: Buffer.from(key.hash, 'hex'), key }));
  }

  async authenticate(credentials: Credentials): Promise<Identity> {
    const token = credentials.token;
    if (token === undefined || token === '') {
      throw new UnauthenticatedError(
        'This request needs a token: send Authorization: Bearer <token>.',
        BEARER_CHALLENGE,
      );
    }
    // A JWT has three dot-separated parts; an API key has none.
    if (token.split('.').length === 3) return this.verifyJwt(token);
    return this.apiKey(token);
  }

  private async verifyJwt(token: string): Promise<Identity> {
    if (this.secret === null) {
      throw new UnauthenticatedError('This server accepts API keys only: no [token] secret is set.', BEARER_CHALLENGE);
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'project'],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw new UnauthenticatedError(`The token is not valid: ${reason(error)}.`, BEARER_CHALLENGE, { cause: error });
    }
    const project = payload.project;
    const roles = payload.roles ?? [];
    if (typeof project !== 'string' || project === '') {
      throw new UnauthenticatedError(
        'The token is not valid: its "project" claim is not a project id.',
        BEARER_CHALLENGE,
      );
    }
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')) {
      throw new UnauthenticatedError(
        'The token is not valid: its "roles" claim is not a list of names.',
        BEARER_CHALLENGE,
      );
    }
    return {
      project,
      user: typeof payload.sub === 'string' ? payload.sub : null,
      roles: roles as string[],
      expiresAt: (payload.exp as number) * 1000,
      strategy: 'token',
    };
  }

  private apiKey(token: string): Identity {
    const digest = createHash('sha256').update(token).digest();
    // Every key is compared, in constant time each, so the answer's timing says nothing of which matched.
    let found: ApiKey | null = null;
    for (const { digest: expected, key } of this.keys) {
      if (expected.length === digest.length && timingSafeEqual(expected, digest)) found = key;
    }
    if (found === null) throw new UnauthenticatedError('The token is not a valid token or API key.', BEARER_CHALLENGE);
    return { project: found.project, user: null, roles: [...found.roles], expiresAt: null, strategy: 'token' };
  }

  async close(): Promise<void> {}
}

function reason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `its "${error.claim}" claim is ${error.reason}`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'it is not signed with HS256';
  return 'it is malformed';
}
