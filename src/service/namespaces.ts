import { type Limits, makeLimits } from '../core/index.js';

/**
 * How the service's resource kinds map onto the storage contract, which knows only queues.
 *
 * Queues are stored under the project as given. Topics are queues too — Zaqar's topics carry
 * messages and subscriptions, never claims — but they must not share names with queues: a topic
 * "events" and a queue "events" are two things. So a topic lives in a project of its own, the
 * project id behind a prefix that starts with a control character. No client can name such a
 * project (HTTP headers cannot carry control characters and checkProjectId refuses them on every
 * other path), so the namespaces can never collide, and every storage feature — drivers, pools,
 * the catalog of issue 7 — works for topics unchanged because it sees an ordinary (project, queue).
 * The alternatives were worse: a name prefix would eat into the 64 characters a name may have and
 * is not in the name alphabet; a separate store would double every resource and pool.
 *
 * The health probe of GET /v2/health works in a namespace of its own for the same reason, and so
 * do the quotas the admin API sets (quota-store.ts).
 */

export type ResourceKind = 'queue' | 'topic';

const TOPIC_PREFIX = '\u001ftopic\u001f';
const HEALTH_PROJECT = '\u001fhealth\u001f';
const QUOTA_PROJECT = '\u001fquota\u001f';

/** The longest prefix a namespace adds to a project id. */
export const NAMESPACE_PREFIX_LENGTH = TOPIC_PREFIX.length;

export function storeProject(kind: ResourceKind, project: string): string {
  return kind === 'queue' ? project : TOPIC_PREFIX + project;
}

/** The project the health probe writes into. */
export function healthProject(): string {
  return HEALTH_PROJECT;
}

/** The project the admin API's quotas are kept in, one queue per project that has some. */
export function quotaProject(): string {
  return QUOTA_PROJECT;
}

/**
 * The limits a store must be opened with to hold what the service writes: the service's own,
 * with room in project ids for the namespace prefix. The service still refuses client project
 * ids longer than `limits.maxProjectIdLength`.
 */
export function storeLimits(limits: Limits): Limits {
  return makeLimits({ ...limits, maxProjectIdLength: limits.maxProjectIdLength + NAMESPACE_PREFIX_LENGTH });
}
