import { InvalidArgumentError, type ProjectId } from '../../core/index.js';

/**
 * Where everything lives in Redis. Every key of a project starts with `<prefix>{<project>}:`, so
 * on a Redis Cluster all of a project's queues hash to one slot: the multi-key scripts (a claim
 * that moves a message into the project's dead-letter queue, a queue delete that also updates the
 * project's queue index) stay atomic. The cost is that one project cannot spread over several
 * masters; load spreads across projects.
 *
 *   <prefix>projects                      SET   the tag of every project that ever had a queue (gc)
 *   <p>queues                             ZSET  queue names, score 0, read in lexical order
 *   <p>trash                              HASH  trash key -> queue base, for deletes finished later
 *   <p>trash:<rand>                       ZSET  ids of a deleted queue's messages not yet removed
 *   <q>                                   HASH  meta (MessagePack), seq, sseq, dead-letter policy
 *   <q>:ids                               ZSET  every message id, scored by its per-queue sequence
 *   <q>:ready                             ZSET  free, visible ids by sequence: what claims take
 *   <q>:delayed                           ZSET  ids whose delay has not passed, by visible time
 *   <q>:claimed                           ZSET  claimed ids, by the end of their claim
 *   <q>:exp                               ZSET  every id by its expiry (gc, stats)
 *   <q>:claims                            HASH  claim id -> "ttl grace updated expires id,id,..."
 *   <q>:claimexp                          ZSET  claim ids by expiry (gc)
 *   <q>:subs / <q>:subby                  ZSET  subscription ids by sequence / HASH subscriber -> id
 *   <q>:keys / <q>:keyexp                 HASH  idempotency key -> "until fingerprint id,id,..." / ZSET
 *                                               keys by until (gc)
 *   <q>:m:<id>                            HASH  one message: s t cr e v c ce cc u cs (b: a body written
 *                                               before bodies had keys of their own)
 *   <q>:b:<id>                            STRING  one message's body (MessagePack)
 *   <q>:s:<id>                            HASH  one subscription: q sub t cr e o cf
 *
 * with <p> = `<prefix>{<project>}:` and <q> = `<p>q:<queue>`. Projects and queue names are
 * escaped so no name can forge another key or break the hash tag.
 */
export class KeyLayout {
  readonly projects: string;

  constructor(readonly prefix: string) {
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new InvalidArgumentError('keyPrefix', 'must not contain "{" or "}": they would change the hash tag');
    }
    this.projects = `${prefix}projects`;
  }

  /** What goes between the braces: the project, escaped. gc finds projects by it. */
  projectTag(project: ProjectId): string {
    return escapeName(project, true);
  }

  /** The start of every key of a project, ending in ':'. */
  projectBase(project: ProjectId): string {
    return this.tagBase(this.projectTag(project));
  }

  /** The project a tag names: projectTag undone (gc reads tags from the projects set). */
  static projectOfTag(tag: string): ProjectId {
    return unescapeName(tag, true);
  }

  tagBase(tag: string): string {
    return `${this.prefix}{${tag}}:`;
  }

  queueIndex(project: ProjectId): string {
    return `${this.projectBase(project)}queues`;
  }

  trashIndex(project: ProjectId): string {
    return `${this.projectBase(project)}trash`;
  }

  queueBase(project: ProjectId, queue: string): string {
    return `${this.projectBase(project)}q:${escapeName(queue, false)}`;
  }

  /** The part of a queue's base after `q:`: what a dead-letter policy stores to find its queue. */
  static queuePart(queue: string): string {
    return escapeName(queue, false);
  }
}

/** Whether a name survives UTF-8 unchanged (no lone surrogates), so it can live in a Redis set. */
export function isWellFormed(name: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(name);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An injective escape: '%', '{', '}' and ':' become %XX, lone surrogates (which UTF-8 would turn
 * into U+FFFD and so merge) become %uXXXX. The empty project becomes a bare '%', which no escape
 * produces, because an empty hash tag `{}` would hash the whole key and scatter a project's keys.
 */
function escapeName(name: string, project: boolean): string {
  if (project && name === '') return '%';
  return name
    .replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
    .replace(LONE_SURROGATE, (c) => `%u${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** escapeName undone: every '%' in an escaped name starts an escape, so this is exact. */
function unescapeName(name: string, project: boolean): string {
  if (project && name === '%') return '';
  return name.replace(/%u([0-9A-F]{4})|%([0-9A-F]{2})/g, (_, unit: string | undefined, byte: string | undefined) =>
    String.fromCharCode(Number.parseInt((unit ?? byte) as string, 16)),
  );
}
