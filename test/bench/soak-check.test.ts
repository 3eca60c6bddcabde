import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLAIM_EXPIRY_SLACK_MS,
  type ClaimOp,
  canonicalJson,
  checkSoak,
  type FinalState,
  type PostOp,
  type SoakHistory,
} from '../../bench/soak-check.js';

/**
 * The soak's judge (bench/soak-check.ts) must be able to fail: each kind of wrong it claims to
 * find is planted in a small made-up history and must be found, and only that kind; a clean
 * history with everything the soak does (in-flight operations included) must pass.
 */

const Q = 'q';
const empty = (): SoakHistory => ({ posts: [], deletes: [], pops: [], claims: [], claimChanges: [], queueDeletes: [] });

/** Posts `n` messages a0…a{n-1} with bodies "body-a0"… at t=10, answered at t=20. */
function post(history: SoakHistory, ids: string[], at = 10): PostOp {
  const op: PostOp = {
    queue: Q,
    sentAt: at,
    answeredAt: at + 10,
    ok: true,
    bodies: ids.map((id) => `body-${id}`),
    ids,
  };
  history.posts.push(op);
  return op;
}

function finalOf(ids: string[]): FinalState {
  return new Map([[Q, ids.map((id) => ({ id, body: `body-${id}` }))]]);
}

function claim(history: SoakHistory, claimId: string, ids: string[], sentAt: number, ttl = 10): ClaimOp {
  const op: ClaimOp = {
    queue: Q,
    sentAt,
    answeredAt: sentAt + 5,
    ok: true,
    claimId,
    ttl,
    messages: ids.map((id) => ({ id, body: `body-${id}` })),
  };
  history.claims.push(op);
  return op;
}

/** A history with every kind of operation, all consistent with `finalOf(['a2', 'a4', 'x1'])`. */
function cleanHistory(): SoakHistory {
  const h = empty();
  post(h, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  // a0: claimed, then deleted with its claim id.
  claim(h, 'c1', ['a0'], 100);
  h.deletes.push({ queue: Q, sentAt: 200, answeredAt: 210, ok: true, ids: ['a0'] });
  // a1: popped.
  h.pops.push({
    queue: Q,
    sentAt: 300,
    answeredAt: 310,
    ok: true,
    limit: 1,
    messages: [{ id: 'a1', body: 'body-a1' }],
  });
  // a2: claimed, released, claimed again by someone else (no overlap: the release came first).
  claim(h, 'c2', ['a2'], 400);
  h.claimChanges.push({ queue: Q, claimId: 'c2', ttl: null, sentAt: 500, answeredAt: 510, ok: true });
  claim(h, 'c3', ['a2'], 600);
  // a3: deleted in bulk.
  h.deletes.push({ queue: Q, sentAt: 700, answeredAt: 710, ok: true, ids: ['a3', 'a5-gone-before'] });
  // a4: claimed with a 1 s TTL, updated, taken again after the update's TTL ran out.
  claim(h, 'c4', ['a4'], 800, 1);
  h.claimChanges.push({ queue: Q, claimId: 'c4', ttl: 2, sentAt: 900, answeredAt: 910, ok: true });
  claim(h, 'c5', ['a4'], 900 + 2000);
  // a5: a delete sent when the server was killed (no answer): gone or not, both are fine.
  h.deletes.push({ queue: Q, sentAt: 1000, answeredAt: null, ok: false, ids: ['a5'] });
  // A post without an answer that landed (x1), and one that did not (x2).
  h.posts.push({ queue: Q, sentAt: 1100, answeredAt: null, ok: false, bodies: ['body-x1'], ids: [] });
  h.posts.push({ queue: Q, sentAt: 1100, answeredAt: null, ok: false, bodies: ['body-x2'], ids: [] });
  // A refused delete (403) changed nothing, so a2 is still expected.
  h.deletes.push({ queue: Q, sentAt: 1200, answeredAt: 1210, ok: false, ids: ['a2'] });
  // A queue of its own, filled and deleted.
  h.posts.push({ queue: 'e', sentAt: 1300, answeredAt: 1310, ok: true, bodies: ['body-e0'], ids: ['e0'] });
  h.queueDeletes.push({ queue: 'e', sentAt: 1400, answeredAt: 1410, ok: true });
  return h;
}

describe('bench/soak-check: the soak judge', () => {
  it('passes a clean history, counting what was acknowledged and what was in flight', () => {
    const verdict = checkSoak(cleanHistory(), finalOf(['a2', 'a4', 'x1']));
    assert.deepEqual(verdict.findings, []);
    assert.equal(verdict.lost + verdict.undone + verdict.duplicated + verdict.changed, 0);
    assert.equal(verdict.overlappingClaims + verdict.unknown, 0);
    assert.equal(verdict.acknowledged.messages, 7);
    assert.equal(verdict.acknowledged.claims, 5);
    assert.equal(verdict.acknowledged.popped, 1);
    assert.equal(verdict.acknowledged.queueDeletes, 1);
    assert.equal(verdict.inFlight.posts, 2);
    assert.equal(verdict.inFlight.postsLanded, 1);
    assert.equal(verdict.inFlight.deletes, 1);
    assert.equal(verdict.inFlight.missingTakenByInFlightDeletes, 1);
    assert.equal(verdict.present, 3);
  });

  it('finds a lost post', () => {
    const verdict = checkSoak(cleanHistory(), finalOf(['a4', 'x1']));
    assert.equal(verdict.lost, 1);
    assert.deepEqual(
      verdict.findings.map((f) => [f.kind, f.id]),
      [['lost', 'a2']],
    );
  });

  it('lets an unanswered pop explain as many missing messages as its limit, no more', () => {
    const h = empty();
    post(h, ['a0', 'a1', 'a2']);
    h.pops.push({ queue: Q, sentAt: 100, answeredAt: null, ok: false, limit: 2, messages: [] });
    assert.equal(checkSoak(h, finalOf(['a0'])).lost, 0);
    assert.equal(checkSoak(h, finalOf(['a0'])).inFlight.missingTakenByInFlightPops, 2);
    assert.equal(checkSoak(h, finalOf([])).lost, 1);
  });

  it('finds an undone delete, an undone pop and an undone queue delete', () => {
    for (const id of ['a0', 'a1', 'a3']) {
      const verdict = checkSoak(cleanHistory(), finalOf(['a2', 'a4', 'x1', id]));
      assert.equal(verdict.undone, 1, id);
      assert.deepEqual(
        verdict.findings.map((f) => [f.kind, f.id]),
        [['undone', id]],
      );
    }
    const final = finalOf(['a2', 'a4', 'x1']);
    final.set('e', [{ id: 'e0', body: 'body-e0' }]);
    assert.equal(checkSoak(cleanHistory(), final).undone, 1);
  });

  it('finds a deleted message claimed again during the run', () => {
    const h = cleanHistory();
    claim(h, 'c9', ['a0'], 5000);
    const verdict = checkSoak(h, finalOf(['a2', 'a4', 'x1']));
    assert.equal(verdict.undone, 1);
    assert.match(verdict.findings[0]?.detail ?? '', /claim c9/);
  });

  it('finds overlapping claims, and a pop of a message a live claim holds', () => {
    const h = cleanHistory();
    // c1 holds a0 from t=105 until its delete at t=200; c8 was sent and answered within that.
    claim(h, 'c8', ['a0'], 120);
    const verdict = checkSoak(h, finalOf(['a2', 'a4', 'x1']));
    assert.equal(verdict.overlappingClaims, 1);
    assert.match(verdict.findings[0]?.detail ?? '', /claim c8 took it while claim c1/);

    const popped = cleanHistory();
    popped.pops.push({
      queue: Q,
      sentAt: 610,
      answeredAt: 620,
      ok: true,
      limit: 1,
      messages: [{ id: 'a2', body: 'body-a2' }],
    });
    const popVerdict = checkSoak(popped, finalOf(['a4', 'x1']));
    assert.equal(popVerdict.overlappingClaims, 1);
    assert.equal(popVerdict.lost + popVerdict.undone, 0);
  });

  it('does not call it an overlap when the first claim may have expired, been released or cut short', () => {
    // c4 claims a4 for 1 s at t=800 and is updated to 2 s from t=900: it certainly holds a4 until
    // 2900 less the slack. A claim answered after that is fine, one answered well before it is not.
    const base = (): SoakHistory => {
      const h = empty();
      post(h, ['a4']);
      claim(h, 'c4', ['a4'], 800, 1);
      h.claimChanges.push({ queue: Q, claimId: 'c4', ttl: 2, sentAt: 900, answeredAt: 910, ok: true });
      return h;
    };
    const late = base();
    claim(late, 'c6', ['a4'], 2900 - CLAIM_EXPIRY_SLACK_MS);
    assert.equal(checkSoak(late, finalOf(['a4'])).overlappingClaims, 0);
    const early = base();
    claim(early, 'c7', ['a4'], 1500);
    assert.equal(checkSoak(early, finalOf(['a4'])).overlappingClaims, 1);
    // Without the update, the same claim at 1500 came after c4's expiry: no overlap.
    const unchanged = base();
    unchanged.claimChanges = [];
    claim(unchanged, 'c7', ['a4'], 1500);
    assert.equal(checkSoak(unchanged, finalOf(['a4'])).overlappingClaims, 0);
    // An unanswered release may have happened: from its sending on, nothing is certain.
    const released = base();
    released.claimChanges.push({ queue: Q, claimId: 'c4', ttl: null, sentAt: 1000, answeredAt: null, ok: false });
    claim(released, 'c7', ['a4'], 1500);
    assert.equal(checkSoak(released, finalOf(['a4'])).overlappingClaims, 0);
  });

  it('finds a changed body, in the final state and as served by a claim', () => {
    const final = finalOf(['a2', 'a4', 'x1']);
    (final.get(Q) as { id: string; body: string }[])[0] = { id: 'a2', body: 'body-a2-damaged' };
    const verdict = checkSoak(cleanHistory(), final);
    assert.equal(verdict.changed, 1);
    assert.equal(verdict.lost, 0);

    const h = cleanHistory();
    (h.claims[0] as ClaimOp).messages = [{ id: 'a0', body: 'something else' }];
    assert.equal(checkSoak(h, finalOf(['a2', 'a4', 'x1'])).changed, 1);
  });

  it('finds a body under two ids, an id listed twice, and a body landed twice', () => {
    const twice = finalOf(['a2', 'a4', 'x1']);
    twice.get(Q)?.push({ id: 'zz', body: 'body-a2' });
    const verdict = checkSoak(cleanHistory(), twice);
    assert.equal(verdict.duplicated, 1);
    assert.deepEqual(
      verdict.findings.map((f) => [f.kind, f.id]),
      [['duplicated', 'zz']],
    );

    const listedTwice = finalOf(['a2', 'a4', 'x1', 'a2']);
    assert.equal(checkSoak(cleanHistory(), listedTwice).duplicated, 1);

    const landedTwice = finalOf(['a2', 'a4', 'x1']);
    landedTwice.get(Q)?.push({ id: 'y9', body: 'body-x1' });
    assert.equal(checkSoak(cleanHistory(), landedTwice).duplicated, 1);
  });

  it('finds a message nobody posted', () => {
    const final = finalOf(['a2', 'a4', 'x1']);
    final.get(Q)?.push({ id: 'ghost', body: 'body-ghost' });
    const verdict = checkSoak(cleanHistory(), final);
    assert.equal(verdict.unknown, 1);
    assert.equal(verdict.findings[0]?.id, 'ghost');
  });

  it('compares bodies by canonical JSON, whatever the order of their keys', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }] }), canonicalJson({ a: [{ c: 'x', d: 2 }], b: 1 }));
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: '1' }));
  });
});
