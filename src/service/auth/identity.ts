/**
 * Who a request runs as, once its credential is checked. Both transports ask an Authenticator
 * for it (HTTP per request, the WebSocket once per `authenticate` action) and then run every
 * operation as that identity, so the rules of who may do what live here, in the service, once.
 */

/** A verified caller: the project (tenant) its operations are scoped to, who it is, and its roles. */
export interface Identity {
  /** The project every operation of the request is scoped to. */
  project: string;
  /** The user (keystone user id, a token's subject), or null where the strategy has none (noauth). */
  user: string | null;
  /** Role names as the credential grants them (`reader`, `member`, `admin`, or configured names). */
  roles: readonly string[];
  /** When the credential stops being valid (ms since the epoch), or null when it does not expire. */
  expiresAt: number | null;
  /** How it was verified: the auth strategy's name. */
  strategy: 'noauth' | 'keystone' | 'token';
}

/** What a transport hands over from a request: the headers that can carry a credential. */
export interface Credentials {
  /** `X-Auth-Token` (keystone), or the bearer token of `Authorization: Bearer …` (Posthorn tokens). */
  token: string | undefined;
  /** `X-Project-ID` as the request names it (may be missing). */
  projectId: string | undefined;
}

/**
 * Checks a request's credentials. Throws UnauthenticatedError (401: missing, malformed, expired,
 * revoked or unknown), ForbiddenError (403: a project that the credential does not grant), or
 * IdentityUnavailableError (503: the identity service cannot answer now) — never guesses.
 */
export interface Authenticator {
  readonly strategy: Identity['strategy'];
  authenticate(credentials: Credentials): Promise<Identity>;
  /** Stops background work (caches, connections). */
  close(): Promise<void>;
}
