import { ForbiddenError } from '../../core/index.js';
import type { Identity } from './identity.js';

/**
 * Who may do what, for both transports: Zaqar's policy defaults (zaqar/common/policies) over
 * three role levels. A reader lists and gets; a member also writes (post, claim, delete, metadata,
 * subscriptions, purge, share); an admin also uses pools, flavors, moves, quotas, health and the notification spool, and may name
 * any project. Ping and the home document are Zaqar's UNPROTECTED rules: any authenticated caller.
 */
export type AccessLevel = 'any' | 'reader' | 'member' | 'admin';

const RESOURCE_ACTIONS = {
  get_all: 'reader',
  get: 'reader',
  stats: 'reader',
  create: 'member',
  update: 'member',
  delete: 'member',
  delete_all: 'member',
  purge: 'member',
  share: 'member',
  confirm: 'member',
} as const satisfies Record<string, AccessLevel>;

type Verb = keyof typeof RESOURCE_ACTIONS;
type ProjectResource = 'queues' | 'topics' | 'messages' | 'claims' | 'subscription';

/** A policy rule's name, as Zaqar spells them (`queues:get_all`, `messages:create`...). */
export type PolicyAction =
  | `${ProjectResource}:${Verb}`
  | `${'pools' | 'flavors'}:${'get_all' | 'get' | 'create' | 'update' | 'delete'}`
  | 'queues:redrive'
  | `spool:${'get_all' | 'send' | 'freeze' | 'remove' | 'recover'}`
  | 'moves:create'
  | 'moves:get'
  | `quotas:${'get' | 'update' | 'delete'}`
  | 'health:get'
  | 'ping:get'
  | 'home:get';

/** The level an action needs. */
export function levelOf(action: PolicyAction): AccessLevel {
  const [resource, verb] = action.split(':') as [string, string];
  if (resource === 'ping' || resource === 'home') return 'any';
  // Redrive moves a project's own messages between its queues: a member's write, like a post.
  if (action === 'queues:redrive') return 'member';
  if (
    resource === 'pools' ||
    resource === 'flavors' ||
    resource === 'moves' ||
    resource === 'health' ||
    resource === 'quotas' ||
    resource === 'spool'
  ) {
    return 'admin';
  }
  const level = (RESOURCE_ACTIONS as Record<string, AccessLevel>)[verb];
  if (level === undefined) throw new Error(`no policy level for ${action}`);
  return level;
}

/** The role names of each level (`[policy] reader_roles`, `member_roles`, `admin_roles`). */
export interface RoleNames {
  reader: readonly string[];
  member: readonly string[];
  admin: readonly string[];
}

export const DEFAULT_ROLE_NAMES: Readonly<RoleNames> = Object.freeze({
  reader: Object.freeze(['reader']),
  // `_member_` is what older keystone deployments grant for "member of the project".
  member: Object.freeze(['member', '_member_']),
  admin: Object.freeze(['admin']),
});

const RANK: Record<AccessLevel, number> = { any: 0, reader: 1, member: 2, admin: 3 };

export class AccessPolicy {
  private readonly roleRank = new Map<string, number>();

  constructor(roles: RoleNames = DEFAULT_ROLE_NAMES) {
    // A role named at two levels counts at the higher one.
    for (const level of ['reader', 'member', 'admin'] as const) {
      for (const role of roles[level]) this.roleRank.set(role.toLowerCase(), RANK[level]);
    }
  }

  /** The highest level an identity's roles reach (0: none of the configured roles). */
  rankOf(identity: Identity): number {
    let best = 0;
    for (const role of identity.roles) best = Math.max(best, this.roleRank.get(role.toLowerCase()) ?? 0);
    return best;
  }

  isAdmin(identity: Identity): boolean {
    return this.rankOf(identity) >= RANK.admin;
  }

  /** Throws ForbiddenError (403) unless the identity's roles allow the action. */
  check(identity: Identity, action: PolicyAction): void {
    const needed = levelOf(action);
    if (this.rankOf(identity) >= RANK[needed]) return;
    throw new ForbiddenError(
      needed === 'any'
        ? `${action} needs one of the configured roles; the credential grants ${shownRoles(identity)}.`
        : `${action} needs the ${needed} role; the credential grants ${shownRoles(identity)}.`,
    );
  }
}

function shownRoles(identity: Identity): string {
  return identity.roles.length === 0 ? 'no role' : `only ${identity.roles.join(', ')}`;
}
