import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, RateLimitedError } from '../../src/core/index.js';
import { FairShare } from '../../src/service/index.js';

/** The RateLimitedError `fn` throws. */
function refusal(fn: () => void): RateLimitedError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RateLimitedError, String(error));
    return error;
  }
  assert.fail('was admitted');
}

describe('service: fair share', () => {
  it('admits a burst, refuses the next with the exact wait, and refills at the rate', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { requests: { perSecond: 2, burst: 3 } } });
    for (let i = 0; i < 3; i++) fair.admitRequest('a');
    const refused = refusal(() => fair.admitRequest('a'));
    assert.equal(refused.code, 'PH_RATE_LIMITED');
    assert.equal(refused.retryAfterMs, 500);
    assert.equal(refused.retryAfterSeconds, 1);
    assert.equal(refused.limit, 'requests_per_second');
    assert.equal(refused.project, 'a');
    assert.match(refused.message, /Project "a" may make 2 requests per second \(requests_per_second\)/);
    // A refusal spends nothing: the wait is the same a moment later, minus the moment.
    clock.advance(499);
    assert.equal(refusal(() => fair.admitRequest('a')).retryAfterMs, 1);
    clock.advance(1);
    fair.admitRequest('a');
    assert.equal(refusal(() => fair.admitRequest('a')).retryAfterMs, 500);
    // Long idle: full again, but never more than the burst.
    clock.advance(60_000);
    for (let i = 0; i < 3; i++) fair.admitRequest('a');
    assert.equal(refusal(() => fair.admitRequest('a')).retryAfterMs, 500);
  });

  it('rounds Retry-After up to whole seconds, at least one', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { requests: { perSecond: 0.4, burst: 1 } } });
    fair.admitRequest('a');
    const refused = refusal(() => fair.admitRequest('a'));
    assert.equal(refused.retryAfterMs, 2500);
    assert.equal(refused.retryAfterSeconds, 3);
  });

  it('keeps each project in its own bucket', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { requests: { perSecond: 1, burst: 2 } } });
    fair.admitRequest('a');
    fair.admitRequest('a');
    refusal(() => fair.admitRequest('a'));
    fair.admitRequest('b');
    fair.admitRequest('b');
    assert.equal(refusal(() => fair.admitRequest('b')).project, 'b');
  });

  it('charges messages by count, refusing a batch that does not fit whole', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { messages: { perSecond: 10, burst: 10 } } });
    fair.admitMessages('a', 7);
    const refused = refusal(() => fair.admitMessages('a', 5));
    assert.equal(refused.limit, 'messages_per_second');
    assert.equal(refused.retryAfterMs, 200);
    assert.match(refused.message, /may post 10 messages per second \(messages_per_second\)/);
    fair.admitMessages('a', 3);
    refusal(() => fair.admitMessages('a', 1));
    // Requests are unlimited here: no request bucket.
    for (let i = 0; i < 1000; i++) fair.admitRequest('a');
  });

  it('admits a batch larger than the burst only into a full bucket, then waits for it to be paid', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { messages: { perSecond: 10, burst: 5 } } });
    fair.admitMessages('a', 1);
    // Not full: the wait is until it is (100 ms for the one message spent).
    assert.equal(refusal(() => fair.admitMessages('a', 20)).retryAfterMs, 100);
    clock.advance(100);
    fair.admitMessages('a', 20);
    // 20 messages at 10/s take 2 s to pay; a single one fits when 1 of 5 tokens is back: 1.6 s.
    assert.equal(refusal(() => fair.admitMessages('a', 1)).retryAfterMs, 1600);
    clock.advance(1600);
    fair.admitMessages('a', 1);
  });

  it('gives projects their own limits, the defaults filling what they leave out', () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      defaults: { requests: { perSecond: 1, burst: 1 }, messages: { perSecond: 1, burst: 1 } },
      projects: { big: { requests: { perSecond: 100, burst: 5 } }, free: { requests: null } },
    });
    for (let i = 0; i < 5; i++) fair.admitRequest('big');
    assert.equal(refusal(() => fair.admitRequest('big')).retryAfterMs, 10);
    fair.admitMessages('big', 1);
    assert.equal(refusal(() => fair.admitMessages('big', 1)).retryAfterMs, 1000);
    for (let i = 0; i < 1000; i++) fair.admitRequest('free');
    fair.admitRequest('other');
    assert.equal(refusal(() => fair.admitRequest('other')).retryAfterMs, 1000);
    assert.deepEqual(fair.limitsOf('free'), { requests: null, messages: { perSecond: 1, burst: 1 } });
  });

  it('without limits admits everything and remembers nothing', () => {
    const fair = new FairShare({ clock: new FakeClock() });
    for (let i = 0; i < 1000; i++) {
      fair.admitRequest(`p${i}`);
      fair.admitMessages(`p${i}`, 100);
    }
    assert.equal(fair.trackedBuckets, 0);
  });

  it('forgets the buckets of projects that are idle (full again)', () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      defaults: { requests: { perSecond: 1, burst: 10 }, messages: { perSecond: 100, burst: 100 } },
    });
    for (let i = 0; i < 500; i++) {
      fair.admitRequest(`p${i}`);
      fair.admitMessages(`p${i}`, 50);
    }
    fair.admitRequest('busy');
    for (let i = 0; i < 9; i++) fair.admitRequest('busy');
    assert.equal(fair.trackedBuckets, 1001);
    // Messages refill in 0.5 s, a spent request in 1 s; busy's ten requests take 10 s.
    clock.advance(1000);
    assert.equal(fair.trackedBuckets, 1);
    // Forgetting lost nothing: a forgotten bucket is full, exactly as it would have been.
    for (let i = 0; i < 10; i++) fair.admitRequest('p0');
    refusal(() => fair.admitRequest('p0'));
    // busy spent ten at 0 s: one is back at 1 s.
    fair.admitRequest('busy');
    assert.equal(refusal(() => fair.admitRequest('busy')).retryAfterMs, 1000);
    clock.advance(9000);
    assert.equal(fair.trackedBuckets, 2); // p0 and busy are both full at 11 s
    clock.advance(1000);
    assert.equal(fair.trackedBuckets, 0);
  });

  it('forgets idle buckets on its own as it admits, not only when asked how many it holds', () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, defaults: { requests: { perSecond: 1, burst: 1 } } });
    for (let i = 0; i < 100; i++) fair.admitRequest(`p${i}`);
    clock.advance(60_000);
    fair.admitRequest('late');
    // Reading the private map's size without a sweep: through the set it belongs to.
    const sets = fair as unknown as { requests: { size: number } };
    assert.equal(sets.requests.size, 1);
  });

  it('refuses rates that are not positive and bursts under one', () => {
    assert.throws(() => new FairShare({ defaults: { requests: { perSecond: 0, burst: 1 } } }), RangeError);
    assert.throws(() => new FairShare({ defaults: { messages: { perSecond: 1, burst: 0.5 } } }), RangeError);
    assert.throws(
      () => new FairShare({ projects: { a: { requests: { perSecond: Number.NaN, burst: 1 } } } }),
      RangeError,
    );
  });
});
