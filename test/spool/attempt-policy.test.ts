import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AttemptDecision,
  type AttemptReport,
  DEFAULT_RETRY_INTERVALS,
  decide,
  startAttempt,
  waitAfterJobFailure,
} from '../../src/spool/attempt-policy.js';
import type { ReportedOutcome } from '../../src/spool/delivery-call.js';
import type { MessageMeta } from '../../src/spool/message-metadata.js';

// The policy is pure: no disk, no clock; `now` is whatever the test says.
const T0 = 1_700_000_000_000;

function meta(recipients: string[], overrides: Partial<MessageMeta> = {}): MessageMeta {
  return {
    id: `${'a'.repeat(32)}-0`,
    parentId: 'a'.repeat(32),
    sender: 'ada@example.org',
    spooledAt: T0,
    nextHop: null,
    status: 'send-now',
    nextAttemptAt: T0,
    retryIntervals: [1000, 5000],
    attempts: 0,
    lastAttemptAt: null,
    lastError: null,
    recipients: recipients.map((address) => ({ address, state: 'pending', reason: null, at: null })),
    frozenReason: null,
    quarantineReason: null,
    ...overrides,
  };
}

const report = (outcomes: Record<string, ReportedOutcome>): AttemptReport => ({
  outcomes: new Map(Object.entries(outcomes)),
});
const later = (reason = '451 try again'): ReportedOutcome => ({ status: 'try-later', reason });
const failed = (reason = '550 no such user'): ReportedOutcome => ({ status: 'failed', reason });
const delivered: ReportedOutcome = { status: 'delivered' };

/** The metadata a decision saves (none when the message is delivered and leaves). */
function saved(d: AttemptDecision): MessageMeta {
  assert.notEqual(d.kind, 'delivered', 'the decision saves metadata');
  return (d as Exclude<AttemptDecision, { kind: 'delivered' }>).meta;
}

describe('attempt policy: whether to deliver', () => {
  it('leaves a message that is not waiting, or waiting for later, as it is', () => {
    for (const status of ['frozen', 'removed', 'quarantined'] as const) {
      assert.deepEqual(startAttempt(meta(['a'], { status }), T0, null), { kind: 'leave' });
    }
    const postponed = meta(['a'], { status: 'send-at', nextAttemptAt: T0 + 1 });
    assert.deepEqual(startAttempt(postponed, T0, null), { kind: 'leave' });
    assert.equal(startAttempt(postponed, T0 + 1, null).kind, 'deliver', 'due at its time');
  });

  it('delivers to the pending recipients only, as the next attempt', () => {
    const m = meta(['a', 'b', 'c'], { attempts: 2 });
    m.recipients[1] = { address: 'b', state: 'delivered', reason: null, at: T0 };
    m.recipients[2] = { address: 'c', state: 'failed', reason: '550', at: T0 };
    assert.deepEqual(startAttempt(m, T0, null), { kind: 'deliver', pending: ['a'], attempt: 3 });
  });

  it('freezes instead when an operator asked, without counting an attempt', () => {
    const start = startAttempt(meta(['a']), T0, 'held by ops');
    assert.equal(start.kind, 'freeze');
    assert.deepEqual(start.kind === 'freeze' && start.meta, {
      ...meta(['a']),
      status: 'frozen',
      nextAttemptAt: null,
      frozenReason: 'held by ops',
    });
  });
});

describe('attempt policy: after an attempt', () => {
  it('a message whose recipients are all delivered is done, with every recipient delivered so far', () => {
    const m = meta(['a', 'b']);
    m.recipients[0] = { address: 'a', state: 'delivered', reason: null, at: T0 };
    assert.deepEqual(decide(m, report({ b: delivered }), T0 + 5), { kind: 'delivered', recipients: ['a', 'b'] });
    assert.deepEqual(decide(meta(['a']), report({ a: delivered }), T0, 'frozen meanwhile'), {
      kind: 'delivered',
      recipients: ['a'],
    });
  });

  it('try-later waits for the next interval, keeping the per-recipient results', () => {
    const d = decide(meta(['a', 'b']), report({ a: delivered, b: later('451 greylisted') }), T0 + 7);
    assert.deepEqual(d, {
      kind: 'retry',
      until: T0 + 7 + 1000,
      reason: '451 greylisted',
      delivered: ['a'],
      failed: [],
      meta: {
        ...meta(['a', 'b']),
        status: 'send-at',
        nextAttemptAt: T0 + 7 + 1000,
        retryIntervals: [5000],
        attempts: 1,
        lastAttemptAt: T0 + 7,
        lastError: '451 greylisted',
        recipients: [
          { address: 'a', state: 'delivered', reason: null, at: T0 + 7 },
          { address: 'b', state: 'pending', reason: '451 greylisted', at: null },
        ],
      },
    });
  });

  it('a recipient the report leaves out, or a delivery that threw, is tried later', () => {
    const silent = saved(decide(meta(['a', 'b']), report({ a: delivered }), T0));
    assert.deepEqual(silent.recipients[1], {
      address: 'b',
      state: 'pending',
      reason: 'the delivery function reported no result',
      at: null,
    });
    const threw = decide(meta(['a', 'b']), { failure: 'connection refused' }, T0);
    assert.equal(threw.kind, 'retry');
    assert.deepEqual(
      saved(threw).recipients.map((r) => [r.state, r.reason]),
      [
        ['pending', 'connection refused'],
        ['pending', 'connection refused'],
      ],
    );
    assert.equal(saved(threw).lastError, 'connection refused');
  });

  it('the last error is the first undelivered recipient’s reason', () => {
    const d = decide(meta(['a', 'b', 'c']), report({ a: delivered, b: failed('550 gone'), c: later('451') }), T0);
    assert.equal(saved(d).lastError, '550 gone');
    assert.equal(d.kind === 'retry' && d.reason, '550 gone');
  });

  it('out of intervals: gives up, every pending recipient marked as having none left', () => {
    const d = decide(meta(['a', 'b'], { retryIntervals: [] }), report({ a: delivered, b: later('451 busy') }), T0);
    assert.equal(d.kind, 'give-up');
    assert.deepEqual(d.kind === 'give-up' && [d.reason, d.failed, d.delivered], [
      'retry intervals exhausted',
      [{ recipient: 'b', reason: '451 busy (no retry intervals left)' }],
      ['a'],
    ]);
    const m = saved(d);
    assert.deepEqual(
      [m.status, m.nextAttemptAt, m.frozenReason, m.attempts],
      ['frozen', null, 'retry intervals exhausted', 1],
    );
  });

  it('a permanent failure gives up at once when no recipient is pending, intervals or not', () => {
    const d = decide(meta(['a', 'b']), report({ a: failed('550 a'), b: failed('553 b') }), T0);
    assert.equal(d.kind, 'give-up');
    assert.deepEqual(d.kind === 'give-up' && [d.reason, d.failed, d.delivered], [
      'failed for good: a, b',
      [
        { recipient: 'a', reason: '550 a' },
        { recipient: 'b', reason: '553 b' },
      ],
      [],
    ]);
    assert.deepEqual(saved(d).retryIntervals, [1000, 5000], 'the intervals are not used up');
  });

  it('a permanent failure waits for the recipients still pending, then gives up with them all', () => {
    const first = decide(meta(['a', 'b']), report({ a: failed('550 a'), b: later('451 b') }), T0);
    assert.equal(first.kind, 'retry');
    assert.deepEqual(first.kind === 'retry' && first.failed, ['a']);
    const second = decide(saved(first), report({ b: delivered }), T0 + 1000);
    assert.equal(second.kind, 'give-up');
    assert.deepEqual(second.kind === 'give-up' && [second.reason, second.failed, second.delivered], [
      'failed for good: a',
      [{ recipient: 'a', reason: '550 a' }],
      ['b'],
    ]);
  });

  it('a freeze asked for during the attempt is applied when recipients remain, the attempt counted', () => {
    const d = decide(meta(['a', 'b']), report({ a: delivered, b: later() }), T0 + 3, 'held by ops');
    assert.equal(d.kind, 'freeze');
    const m = saved(d);
    assert.deepEqual(
      [m.status, m.frozenReason, m.nextAttemptAt, m.attempts, m.retryIntervals],
      ['frozen', 'held by ops', null, 1, [1000, 5000]],
    );
    assert.equal(decide(meta(['a']), report({ a: failed() }), T0, 'held by ops').kind, 'freeze');
  });

  it('without a report (nothing was pending) the attempt is not counted', () => {
    const m = meta(['a']);
    m.recipients[0] = { address: 'a', state: 'failed', reason: '550', at: T0 };
    const d = decide(m, null, T0 + 9);
    assert.equal(d.kind, 'give-up');
    assert.deepEqual([saved(d).attempts, saved(d).lastAttemptAt], [0, null]);
  });

  it('a job that broke outside the delivery function waits the first interval, at least a second', () => {
    assert.equal(waitAfterJobFailure(DEFAULT_RETRY_INTERVALS), 60_000);
    assert.equal(waitAfterJobFailure([]), 60_000);
    assert.equal(waitAfterJobFailure([5]), 1000);
    assert.equal(waitAfterJobFailure([7000, 1]), 7000);
  });
});

describe('attempt policy: properties', () => {
  const intervals = fc.array(fc.integer({ min: 0, max: 86_400_000 }), { maxLength: 12 });

  it('failing every time, a message is retried on exactly its intervals, then given up', () => {
    fc.assert(
      fc.property(intervals, fc.integer({ min: 0, max: 10_000 }), (waits, took) => {
        let m = meta(['a', 'b'], { retryIntervals: waits });
        let now = T0;
        for (const [i, wait] of waits.entries()) {
          now += took;
          const d = decide(m, { failure: `attempt ${i + 1} failed` }, now);
          assert.equal(d.kind, 'retry');
          assert.equal(d.kind === 'retry' && d.until, now + wait);
          m = saved(d);
          assert.deepEqual([m.attempts, m.retryIntervals], [i + 1, waits.slice(i + 1)]);
          now = d.kind === 'retry' ? d.until : now;
        }
        const last = decide(m, { failure: 'still failing' }, now + took);
        assert.equal(last.kind, 'give-up');
        assert.equal(saved(last).attempts, waits.length + 1);
        assert.equal(last.kind === 'give-up' && last.reason, 'retry intervals exhausted');
      }),
    );
  });

  it('decides without changing what it is given, and every recipient ends in the outcome reported', () => {
    const outcome = fc.constantFrom<ReportedOutcome>(delivered, later(), failed());
    fc.assert(
      fc.property(fc.array(outcome, { minLength: 1, maxLength: 6 }), intervals, (outcomes, waits) => {
        const addresses = outcomes.map((_, i) => `r${i}@example.org`);
        const m = meta(addresses, { retryIntervals: waits });
        const before = structuredClone(m);
        const d = decide(
          m,
          report(Object.fromEntries(addresses.map((a, i) => [a, outcomes[i] as ReportedOutcome]))),
          T0,
        );
        assert.deepEqual(m, before);
        const pending = outcomes.filter((o) => o.status === 'try-later').length;
        const failures = outcomes.filter((o) => o.status === 'failed').length;
        const expected = pending + failures === 0 ? 'delivered' : pending > 0 && waits.length > 0 ? 'retry' : 'give-up';
        assert.equal(d.kind, expected);
        if (d.kind !== 'delivered') {
          assert.deepEqual(
            saved(d).recipients.map((r) => r.state),
            outcomes.map((o) => (o.status === 'try-later' ? 'pending' : o.status)),
          );
        }
      }),
    );
  });
});
