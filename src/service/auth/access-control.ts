import { ForbiddenError } from '../../core/index.js';
import type { AdminToken } from '../admin-token.js';
import type { Authenticator, Credentials, Identity } from './identity.js';
import { NoauthAuthenticator } from './noauth-authenticator.js';
import { type AccessPolicy, levelOf, type PolicyAction } from './policy.js';

/** One request (HTTP) or one WebSocket action, as the access control sees it. */
export interface AccessRequest {
  action: PolicyAction;
  credentials: Credentials;
  /** X-Admin-Token as presented (the break-glass credential of admin actions). */
  adminToken: string | undefined;
  /** The request carried a URL-Signature that verified for its method and path. */
  signed: boolean;
  /** False for requests outside any project (pools, flavors): no project is settled. Default true. */
  needsProject?: boolean;
}

/** Who the request runs as; `admin` when it may use admin actions (role or break-glass token). */
export interface Access {
  identity: Identity;
  admin: boolean;
}

/**
 * The one place both transports ask "who is this and may they do this?": authenticate with the
 * configured strategy, settle the project (X-Project-ID may name another project only for an
 * admin; otherwise a disagreeing one is 403, never trusted), then check the action against the
 * policy. A verified pre-signed URL stands instead of a credential for what it signs: the
 * signature covers the project, the paths and the methods, so nothing more is asked of it.
 */
export class AccessControl {
  constructor(
    readonly authenticator: Authenticator,
    private readonly policy: AccessPolicy,
    private readonly adminToken: AdminToken,
    private readonly checkProject: (value: string | undefined) => string,
  ) {}

  get strategy(): Identity['strategy'] {
    return this.authenticator.strategy;
  }

  async authorize(request: AccessRequest): Promise<Access> {
    const { credentials } = request;
    const auth = this.authenticator;
    if (request.signed) {
      const identity = signedIdentity(this.checkProject(credentials.projectId), auth.strategy);
      return { identity, admin: false };
    }
    const admin = levelOf(request.action) === 'admin';
    if (admin && request.adminToken !== undefined && this.adminToken.refusal(request.adminToken) === null) {
      // Break-glass: the admin token is an admin of any project, whatever the strategy.
      const project = request.needsProject === false ? '' : this.checkProject(credentials.projectId);
      return { identity: { project, user: null, roles: [], expiresAt: null, strategy: auth.strategy }, admin: true };
    }
    if (auth instanceof NoauthAuthenticator) {
      // noauth keeps today's rules: every caller is a member of the project it names, and admin
      // actions are gated by the admin token alone (the transports' admin checks say why not).
      if (request.needsProject === false) {
        return { identity: { project: '', user: null, roles: [], expiresAt: null, strategy: 'noauth' }, admin: false };
      }
      return { identity: auth.identify(credentials), admin: false };
    }
    const identity = await auth.authenticate(credentials);
    const isAdmin = this.policy.isAdmin(identity);
    let project = identity.project;
    const named = credentials.projectId;
    if (named !== undefined && named !== project && request.needsProject !== false) {
      if (!isAdmin) {
        throw new ForbiddenError(
          `The credential is for project "${project}"; X-Project-ID may not name another project.`,
        );
      }
      project = this.checkProject(named);
    }
    this.policy.check(identity, request.action);
    return { identity: project === identity.project ? identity : { ...identity, project }, admin: isAdmin };
  }
}

function signedIdentity(project: string, strategy: Identity['strategy']): Identity {
  return { project, user: null, roles: [], expiresAt: null, strategy };
}
