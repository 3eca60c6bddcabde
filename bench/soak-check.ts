/**
 * The soak's judge (bench/soak.ts): pure over what the clients recorded and what the last server
 * holds, so it can be tested on made-up histories (test/bench/soak-check.test.ts) and cannot be
 * fooled by the load that produced them.
 *
 * Every operation is recorded with the wall-clock times it was sent and answered; `answeredAt`
 * is null when no answer came (the server was killed while it was in flight), and `ok` says the
 * answer was a 2xx. Only an acknowledged operation (ok) obliges the server; a refused one (an
 * answer, not 2xx) must have changed nothing; one without an answer may have happened or not.
 * Client and server run on one machine, so one clock orders the server's decisions between the
 * times a client sent a request and got its answer.
 */

export interface Timed {
  queue: string;
  sentAt: number;
  /** When the answer came; null when none came. */
  answeredAt: number | null;
  /** The answer was a 2xx. */
  ok: boolean;
  /** The kill round it was sent in (for the findings' details). */
  round?: number;
}

/** A POST of messages; `ids[i]` is the id the server gave `bodies[i]` (empty unless ok). */
export interface PostOp extends Timed {
  /** Each body as canonical JSON (bench/soak-check.ts canonicalJson), unique across the soak. */
  bodies: string[];
  ids: string[];
}

/** A DELETE of one message (with its claim id, if any) or of a list of ids. */
export interface DeleteOp extends Timed {
  ids: string[];
}

/** A pop: what it answered it took (empty unless ok). */
export interface PopOp extends Timed {
  limit: number;
  messages: Served[];
}

export interface Served {
  id: string;
  /** Canonical JSON of the body as served. */
  body: string;
}

/** A claim: its id and the messages it answered (empty unless ok). */
export interface ClaimOp extends Timed {
  claimId: string | null;
  ttl: number;
  messages: Served[];
}

/** A claim update (PATCH, a new TTL from now) or a release (DELETE of the claim). */
export interface ClaimChangeOp extends Timed {
  claimId: string;
  /** The new TTL for an update; null for a release. */
  ttl: number | null;
}

/** A DELETE of a whole queue. */
export type QueueDeleteOp = Timed;

export interface SoakHistory {
  posts: PostOp[];
  deletes: DeleteOp[];
  pops: PopOp[];
  claims: ClaimOp[];
  claimChanges: ClaimChangeOp[];
  queueDeletes: QueueDeleteOp[];
}

/** What the last server lists (include_claimed, echo), queue by queue. */
export type FinalState = Map<string, Served[]>;

export interface Finding {
  kind: 'lost' | 'undone' | 'duplicated' | 'changed' | 'overlapping-claim' | 'unknown';
  queue: string;
  id: string;
  detail: string;
}

export interface SoakVerdict {
  acknowledged: {
    posts: number;
    messages: number;
    deletes: number;
    pops: number;
    popped: number;
    claims: number;
    claimed: number;
    claimChanges: number;
    queueDeletes: number;
  };
  /** Operations that got no answer (the server died under them): either outcome is allowed. */
  inFlight: {
    posts: number;
    deletes: number;
    pops: number;
    claims: number;
    claimChanges: number;
    queueDeletes: number;
    /** Unacknowledged posts whose messages are present after all (so they happened). */
    postsLanded: number;
    /** Acknowledged messages missing that in-flight pops of their queue may have taken. */
    missingTakenByInFlightPops: number;
    /** Acknowledged messages missing that an in-flight delete (by id or of the queue) may have taken. */
    missingTakenByInFlightDeletes: number;
  };
  /** Messages the last server holds. */
  present: number;
  lost: number;
  undone: number;
  duplicated: number;
  changed: number;
  overlappingClaims: number;
  unknown: number;
  /** Every finding, capped at `maxFindings` (the counts above are complete). */
  findings: Finding[];
}

/**
 * Claim expiry is decided by the server's clock in whatever resolution it keeps; a claim is
 * counted as certainly live only until this much before its earliest possible expiry, so a
 * rounding of the server's timestamps never reads as an overlap.
 */
export const CLAIM_EXPIRY_SLACK_MS = 1000;

/** JSON with object keys sorted, so a body compares equal however its keys were ordered. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface Posted {
  queue: string;
  body: string;
  op: PostOp;
}

const answered = (op: Timed): number => op.answeredAt ?? Number.POSITIVE_INFINITY;

/** Judges a soak: see the module's comment and bench/soak.ts for what each figure means. */
export function checkSoak(history: SoakHistory, final: FinalState, maxFindings = 50): SoakVerdict {
  const findings: Finding[] = [];
  const counts = { lost: 0, undone: 0, duplicated: 0, changed: 0, overlappingClaims: 0, unknown: 0 };
  const report = (finding: Finding): void => {
    const key = finding.kind === 'overlapping-claim' ? 'overlappingClaims' : finding.kind;
    counts[key]++;
    if (findings.length < maxFindings) findings.push(finding);
  };

  // What was acknowledged posted, by id; and every body that was sent, acknowledged or not.
  const posted = new Map<string, Posted>();
  const bodyOfUnacked = new Map<string, PostOp>();
  const idOfAckedBody = new Map<string, string>();
  for (const op of history.posts) {
    if (op.ok) {
      op.bodies.forEach((body, i) => {
        const id = op.ids[i];
        if (id === undefined) throw new Error(`a post of ${op.bodies.length} answered ${op.ids.length} ids`);
        posted.set(id, { queue: op.queue, body, op });
        idOfAckedBody.set(body, id);
      });
    } else if (op.answeredAt === null) {
      for (const body of op.bodies) bodyOfUnacked.set(body, op);
    }
  }

  // The earliest moment each message was certainly gone (an acknowledged delete or pop answered),
  // and the earliest moment it may have gone (any attempt sent, answered or not, unless refused).
  const goneAt = new Map<string, number>();
  const mayGoAt = new Map<string, number>();
  const earliest = (map: Map<string, number>, id: string, at: number): void => {
    const known = map.get(id);
    if (known === undefined || at < known) map.set(id, at);
  };
  for (const op of history.deletes) {
    for (const id of op.ids) {
      if (op.ok) earliest(goneAt, id, answered(op));
      if (op.ok || op.answeredAt === null) earliest(mayGoAt, id, op.sentAt);
    }
  }
  for (const op of history.pops) {
    for (const m of op.messages) {
      earliest(goneAt, m.id, answered(op));
      earliest(mayGoAt, m.id, op.sentAt);
    }
  }
  // By queue, so that each queue delete looks only at its own queue's messages (a soak has
  // tens of thousands of queue deletes and millions of messages).
  const postedByQueue = new Map<string, [string, Posted][]>();
  for (const entry of posted) {
    const list = postedByQueue.get(entry[1].queue) ?? [];
    list.push(entry);
    postedByQueue.set(entry[1].queue, list);
  }
  for (const op of history.queueDeletes) {
    if (!op.ok && op.answeredAt !== null) continue;
    for (const [id, p] of postedByQueue.get(op.queue) ?? []) {
      // A queue delete sent after the post was answered certainly takes the message; one that
      // overlapped the post may or may not have.
      if (op.ok && op.sentAt >= answered(p.op)) earliest(goneAt, id, answered(op));
      if (answered(op) > p.op.sentAt) earliest(mayGoAt, id, op.sentAt);
    }
  }
  const inFlightPopBudget = new Map<string, number>();
  for (const op of history.pops) {
    if (op.answeredAt === null) inFlightPopBudget.set(op.queue, (inFlightPopBudget.get(op.queue) ?? 0) + op.limit);
  }

  // Everything served (by claims and pops during the run, and by the final listing) must be what
  // was posted under that id, and must not be served after it was certainly gone.
  const checkServed = (queue: string, m: Served, at: number, how: string): void => {
    const p = posted.get(m.id);
    if (p === undefined) {
      const elsewhere = idOfAckedBody.get(m.body);
      if (elsewhere !== undefined) {
        report({ kind: 'duplicated', queue, id: m.id, detail: `${how}: the body of ${elsewhere} under another id` });
      } else if (!bodyOfUnacked.has(m.body)) {
        report({ kind: 'unknown', queue, id: m.id, detail: `${how}: a message nobody posted: ${m.body.slice(0, 80)}` });
      }
      return;
    }
    if (p.queue !== queue) {
      report({ kind: 'unknown', queue, id: m.id, detail: `${how}: posted to ${p.queue}, served from ${queue}` });
    }
    if (p.body !== m.body) {
      report({
        kind: 'changed',
        queue,
        id: m.id,
        detail: `${how}: posted ${p.body.slice(0, 80)}, served ${m.body.slice(0, 80)}`,
      });
    }
    const gone = goneAt.get(m.id);
    if (gone !== undefined && gone < at) {
      report({
        kind: 'undone',
        queue,
        id: m.id,
        detail: `${how}: served again after its delete was acknowledged (posted in round ${p.op.round ?? '?'})`,
      });
    }
  };
  for (const op of history.claims) {
    for (const m of op.messages) checkServed(op.queue, m, op.sentAt, `claim ${op.claimId}`);
  }
  for (const op of history.pops) {
    for (const m of op.messages) checkServed(op.queue, m, op.sentAt, 'pop');
  }

  // The final state: each id once, each body once, nothing certainly gone, everything else there.
  const presentIds = new Set<string>();
  const unackedLanded = new Set<PostOp>();
  const landedBodies = new Map<string, string>();
  let present = 0;
  for (const [queue, messages] of final) {
    for (const m of messages) {
      present++;
      if (presentIds.has(m.id)) {
        report({ kind: 'duplicated', queue, id: m.id, detail: 'listed twice' });
        continue;
      }
      presentIds.add(m.id);
      // An acknowledged body under a foreign id is found by its id (checkServed); a body whose
      // post got no answer has no id to go by, so it may be there once, not twice.
      const unacked = bodyOfUnacked.get(m.body);
      if (unacked !== undefined && !posted.has(m.id)) {
        const twin = landedBodies.get(m.body);
        if (twin !== undefined) report({ kind: 'duplicated', queue, id: m.id, detail: `the same body as ${twin}` });
        landedBodies.set(m.body, m.id);
        unackedLanded.add(unacked);
      }
      checkServed(queue, m, Number.POSITIVE_INFINITY, 'final listing');
    }
  }
  const missingByQueue = new Map<string, string[]>();
  let missingTakenByInFlightDeletes = 0;
  for (const [id, p] of posted) {
    if (presentIds.has(id) || goneAt.has(id)) continue;
    if (mayGoAt.has(id)) {
      missingTakenByInFlightDeletes++;
      continue;
    }
    const list = missingByQueue.get(p.queue) ?? [];
    list.push(id);
    missingByQueue.set(p.queue, list);
  }
  // An unanswered pop may have taken any free message of its queue, up to its limit.
  let missingTakenByInFlightPops = 0;
  for (const [queue, ids] of missingByQueue) {
    const budget = inFlightPopBudget.get(queue) ?? 0;
    missingTakenByInFlightPops += Math.min(budget, ids.length);
    for (const id of ids.slice(budget)) {
      report({
        kind: 'lost',
        queue,
        id,
        detail: `posted in round ${posted.get(id)?.op.round ?? '?'}, acknowledged, never acknowledged deleted, absent at the end`,
      });
    }
  }

  checkClaimOverlaps(history, report);

  const ackedPops = history.pops.filter((op) => op.ok);
  const ackedClaims = history.claims.filter((op) => op.ok && op.messages.length > 0);
  const unanswered = (ops: Timed[]): number => ops.filter((op) => op.answeredAt === null).length;
  return {
    acknowledged: {
      posts: history.posts.filter((op) => op.ok).length,
      messages: posted.size,
      deletes: history.deletes.filter((op) => op.ok).reduce((n, op) => n + op.ids.length, 0),
      pops: ackedPops.length,
      popped: ackedPops.reduce((n, op) => n + op.messages.length, 0),
      claims: ackedClaims.length,
      claimed: ackedClaims.reduce((n, op) => n + op.messages.length, 0),
      claimChanges: history.claimChanges.filter((op) => op.ok).length,
      queueDeletes: history.queueDeletes.filter((op) => op.ok).length,
    },
    inFlight: {
      posts: unanswered(history.posts),
      deletes: unanswered(history.deletes),
      pops: unanswered(history.pops),
      claims: unanswered(history.claims),
      claimChanges: unanswered(history.claimChanges),
      queueDeletes: unanswered(history.queueDeletes),
      postsLanded: unackedLanded.size,
      missingTakenByInFlightPops,
      missingTakenByInFlightDeletes,
    },
    present,
    ...counts,
    findings,
  };
}

/**
 * Two live claims never hold one message. Claim A certainly holds message m from its answer
 * until the earliest of: its expiry (sent time + TTL, pushed later by acknowledged updates, less
 * the slack), any attempt to release it, and any attempt to delete m or its queue. A claim or pop
 * B of m certainly overlapped A when B was sent after A was answered and answered before A's hold
 * certainly ended.
 */
function checkClaimOverlaps(history: SoakHistory, report: (finding: Finding) => void): void {
  const changes = new Map<string, ClaimChangeOp[]>();
  for (const op of history.claimChanges) {
    const list = changes.get(op.claimId) ?? [];
    list.push(op);
    changes.set(op.claimId, list);
  }
  const attemptsOn = new Map<string, number[]>();
  const attempt = (id: string, at: number): void => {
    const list = attemptsOn.get(id) ?? [];
    list.push(at);
    attemptsOn.set(id, list);
  };
  for (const op of history.deletes)
    if (op.ok || op.answeredAt === null) for (const id of op.ids) attempt(id, op.sentAt);
  // A pop does not end a hold: a pop of a held message is itself the overlap to find (and once
  // popped, the message is gone, so taking it again is found as undone).
  const queueDeletesOf = new Map<string, number[]>();
  for (const op of history.queueDeletes) {
    if (!op.ok && op.answeredAt !== null) continue;
    const list = queueDeletesOf.get(op.queue) ?? [];
    list.push(op.sentAt);
    queueDeletesOf.set(op.queue, list);
  }

  interface Hold {
    claimId: string;
    from: number;
    until: number;
  }
  const holds = new Map<string, Hold[]>();
  for (const op of history.claims) {
    if (!op.ok || op.claimId === null || op.answeredAt === null) continue;
    let expiry = op.sentAt + op.ttl * 1000;
    let endedAt = Number.POSITIVE_INFINITY;
    for (const change of changes.get(op.claimId) ?? []) {
      const refused = !change.ok && change.answeredAt !== null;
      if (refused) continue;
      if (change.ttl === null) endedAt = Math.min(endedAt, change.sentAt);
      else if (change.ttl * 1000 + change.sentAt >= expiry) {
        if (change.ok) expiry = change.sentAt + change.ttl * 1000;
      } else {
        // A shorter TTL from then on may have cut the claim short.
        endedAt = Math.min(endedAt, change.sentAt + change.ttl * 1000);
      }
    }
    for (const at of queueDeletesOf.get(op.queue) ?? []) if (at >= op.sentAt) endedAt = Math.min(endedAt, at);
    for (const m of op.messages) {
      let until = Math.min(expiry - CLAIM_EXPIRY_SLACK_MS, endedAt);
      for (const at of attemptsOn.get(m.id) ?? []) if (at >= op.sentAt) until = Math.min(until, at);
      const list = holds.get(m.id) ?? [];
      list.push({ claimId: op.claimId, from: op.answeredAt, until });
      holds.set(m.id, list);
    }
  }

  const takers: { queue: string; what: string; ids: string[]; sentAt: number; answeredAt: number }[] = [];
  for (const op of history.claims) {
    if (op.ok && op.answeredAt !== null) {
      takers.push({
        queue: op.queue,
        what: `claim ${op.claimId}`,
        ids: op.messages.map((m) => m.id),
        sentAt: op.sentAt,
        answeredAt: op.answeredAt,
      });
    }
  }
  for (const op of history.pops) {
    if (op.ok && op.answeredAt !== null) {
      takers.push({
        queue: op.queue,
        what: 'pop',
        ids: op.messages.map((m) => m.id),
        sentAt: op.sentAt,
        answeredAt: op.answeredAt,
      });
    }
  }
  for (const taker of takers) {
    for (const id of taker.ids) {
      for (const hold of holds.get(id) ?? []) {
        if (taker.what === `claim ${hold.claimId}`) continue;
        if (taker.sentAt >= hold.from && taker.answeredAt < hold.until) {
          report({
            kind: 'overlapping-claim',
            queue: taker.queue,
            id,
            detail: `${taker.what} took it while claim ${hold.claimId} certainly held it`,
          });
        }
      }
    }
  }
}
