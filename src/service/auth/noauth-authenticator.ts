import type { Authenticator, Credentials, Identity } from './identity.js';

/**
 * `auth_strategy = "noauth"` (Zaqar's noauth, today's behaviour): the caller is whoever the
 * X-Project-ID says, or `default_project` when it names none (the stock `openstack messaging`
 * CLI with `--os-auth-type none` sends no project). Without either, the project check refuses the
 * request as before ("Project-Id Missing").
 */
export class NoauthAuthenticator implements Authenticator {
  readonly strategy = 'noauth' as const;

  constructor(
    readonly defaultProject: string | null,
    /** The service's X-Project-ID check (present, not empty, not too long). */
    private readonly checkProject: (value: string | undefined) => string,
  ) {}

  async authenticate(credentials: Credentials): Promise<Identity> {
    return this.identify(credentials);
  }

  /** The same, without a promise: the HTTP hot path of noauth needs no await. */
  identify(credentials: Credentials): Identity {
    const named = credentials.projectId ?? this.defaultProject ?? undefined;
    return { project: this.checkProject(named), user: null, roles: [], expiresAt: null, strategy: 'noauth' };
  }

  async close(): Promise<void> {}
}
