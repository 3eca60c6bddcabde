import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, RateLimitedError } from '../../src/core/index.js';
import { FairShare } from '../../src/service/index.js';

/** The RateLimitedError an admission was refused with. */
async function refusal(admission: Promise<never> | undefined): Promise<RateLimitedError> {
  assert.ok(admission !== undefined, 'was admitted');
  try {
    await admission;
  } catch (error) {
    assert.ok(error instanceof RateLimitedError, String(error));
    return error;
  }
  assert.fail('resolved');
}

/** Admitted: nothing to wait for. */
function ok(admission: Promise<never> | undefined): void {
  assert.equal(admission, undefined);
}

describe('service: fair share', () => {
  it('admits a burst, refuses the next with the exact wait, and refills at the rate', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { requests: { perSecond: 2, burst: 3 } } });
    for (let i = 0; i < 3; i++) ok(fair.admitRequest('a'));
    const refused = await refusal(fair.admitRequest('a'));
    assert.equal(refused.code, 'PH_RATE_LIMITED');
    assert.equal(refused.retryAfterMs, 500);
    assert.equal(refused.retryAfterSeconds, 1);
    assert.equal(refused.limit, 'requests_per_second');
    assert.equal(refused.project, 'a');
    assert.match(refused.message, /Project "a" may make 2 requests per second \(requests_per_second\)/);
    // A refusal spends nothing: the wait is the same a moment later, minus the moment.
    clock.advance(499);
    assert.equal((await refusal(fair.admitRequest('a'))).retryAfterMs, 1);
    clock.advance(1);
    ok(fair.admitRequest('a'));
    assert.equal((await refusal(fair.admitRequest('a'))).retryAfterMs, 500);
    // Long idle: full again, but never more than the burst.
    clock.advance(60_000);
    for (let i = 0; i < 3; i++) ok(fair.admitRequest('a'));
    assert.equal((await refusal(fair.admitRequest('a'))).retryAfterMs, 500);
  });

  it('rounds Retry-After up to whole seconds, at least one', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { requests: { perSecond: 0.4, burst: 1 } } });
    ok(fair.admitRequest('a'));
    const refused = await refusal(fair.admitRequest('a'));
    assert.equal(refused.retryAfterMs, 2500);
    assert.equal(refused.retryAfterSeconds, 3);
  });

  it('keeps each project in its own bucket', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { requests: { perSecond: 1, burst: 2 } } });
    ok(fair.admitRequest('a'));
    ok(fair.admitRequest('a'));
    await refusal(fair.admitRequest('a'));
    ok(fair.admitRequest('b'));
    ok(fair.admitRequest('b'));
    assert.equal((await refusal(fair.admitRequest('b'))).project, 'b');
  });

  it('charges messages by count, refusing a batch that does not fit whole', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { messages: { perSecond: 10, burst: 10 } } });
    ok(fair.admitMessages('a', 7));
    const refused = await refusal(fair.admitMessages('a', 5));
    assert.equal(refused.limit, 'messages_per_second');
    assert.equal(refused.retryAfterMs, 200);
    assert.match(refused.message, /may post 10 messages per second \(messages_per_second\)/);
    ok(fair.admitMessages('a', 3));
    await refusal(fair.admitMessages('a', 1));
    // Requests are unlimited here: no request bucket.
    for (let i = 0; i < 1000; i++) ok(fair.admitRequest('a'));
  });

  it('admits a batch larger than the burst only into a full bucket, then waits for it to be paid', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { messages: { perSecond: 10, burst: 5 } } });
    ok(fair.admitMessages('a', 1));
    // Not full: the wait is until it is (100 ms for the one message spent).
    assert.equal((await refusal(fair.admitMessages('a', 20))).retryAfterMs, 100);
    clock.advance(100);
    ok(fair.admitMessages('a', 20));
    // 20 messages at 10/s take 2 s to pay; a single one fits when 1 of 5 tokens is back: 1.6 s.
    assert.equal((await refusal(fair.admitMessages('a', 1))).retryAfterMs, 1600);
    clock.advance(1600);
    ok(fair.admitMessages('a', 1));
  });

  it('gives projects their own limits, the defaults filling what they leave out', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      refusalDelayMs: 0,
      defaults: { requests: { perSecond: 1, burst: 1 }, messages: { perSecond: 1, burst: 1 } },
      projects: { big: { requests: { perSecond: 100, burst: 5 } }, free: { requests: null } },
    });
    for (let i = 0; i < 5; i++) ok(fair.admitRequest('big'));
    assert.equal((await refusal(fair.admitRequest('big'))).retryAfterMs, 10);
    ok(fair.admitMessages('big', 1));
    assert.equal((await refusal(fair.admitMessages('big', 1))).retryAfterMs, 1000);
    for (let i = 0; i < 1000; i++) ok(fair.admitRequest('free'));
    ok(fair.admitRequest('other'));
    assert.equal((await refusal(fair.admitRequest('other'))).retryAfterMs, 1000);
    assert.deepEqual(fair.limitsOf('free'), { requests: null, messages: { perSecond: 1, burst: 1 } });
  });

  it('without limits admits everything and remembers nothing', async () => {
    const fair = new FairShare({ clock: new FakeClock() });
    for (let i = 0; i < 1000; i++) {
      ok(fair.admitRequest(`p${i}`));
      ok(fair.admitMessages(`p${i}`, 100));
    }
    assert.equal(fair.trackedBuckets, 0);
  });

  it('forgets the buckets of projects that are idle (full again)', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      refusalDelayMs: 0,
      defaults: { requests: { perSecond: 1, burst: 10 }, messages: { perSecond: 100, burst: 100 } },
    });
    for (let i = 0; i < 500; i++) {
      ok(fair.admitRequest(`p${i}`));
      ok(fair.admitMessages(`p${i}`, 50));
    }
    ok(fair.admitRequest('busy'));
    for (let i = 0; i < 9; i++) ok(fair.admitRequest('busy'));
    assert.equal(fair.trackedBuckets, 1001);
    // Messages refill in 0.5 s, a spent request in 1 s; busy's ten requests take 10 s.
    clock.advance(1000);
    assert.equal(fair.trackedBuckets, 1);
    // Forgetting lost nothing: a forgotten bucket is full, exactly as it would have been.
    for (let i = 0; i < 10; i++) ok(fair.admitRequest('p0'));
    await refusal(fair.admitRequest('p0'));
    // busy spent ten at 0 s: one is back at 1 s.
    ok(fair.admitRequest('busy'));
    assert.equal((await refusal(fair.admitRequest('busy'))).retryAfterMs, 1000);
    clock.advance(9000);
    assert.equal(fair.trackedBuckets, 2); // p0 and busy are both full at 11 s
    clock.advance(1000);
    assert.equal(fair.trackedBuckets, 0);
  });

  it('forgets idle buckets on its own as it admits, not only when asked how many it holds', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({ clock, refusalDelayMs: 0, defaults: { requests: { perSecond: 1, burst: 1 } } });
    for (let i = 0; i < 100; i++) ok(fair.admitRequest(`p${i}`));
    clock.advance(60_000);
    ok(fair.admitRequest('late'));
    // Reading the private map's size without a sweep: through the set it belongs to.
    const sets = fair as unknown as { requests: { size: number } };
    assert.equal(sets.requests.size, 1);
  });

  it('holds a refusal for the delay (at most its Retry-After), saying what is left of the wait then', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      refusalDelayMs: 1000,
      random: () => 1,
      defaults: { requests: { perSecond: 0.1, burst: 1 } },
    });
    ok(fair.admitRequest('a'));
    let settled: RateLimitedError | null = null;
    const held = refusal(fair.admitRequest('a')).then((e) => {
      settled = e;
      return e;
    });
    await clock.advanceAsync(999);
    assert.equal(settled, null);
    await clock.advanceAsync(1);
    const refused = await held;
    assert.equal(refused.retryAfterMs, 9000);
    assert.equal(refused.retryAfterSeconds, 9);
    // A wait of 100 ms is "retry in 1 s": held the whole delay when that is shorter, then told 1 s.
    const quick = new FairShare({
      clock,
      refusalDelayMs: 500,
      random: () => 1,
      defaults: { requests: { perSecond: 10, burst: 1 } },
    });
    ok(quick.admitRequest('a'));
    let done = false;
    const short = refusal(quick.admitRequest('a')).then((e) => {
      done = true;
      return e;
    });
    await clock.advanceAsync(499);
    assert.equal(done, false);
    await clock.advanceAsync(1);
    assert.equal((await short).retryAfterMs, 0);
    assert.equal((await short).retryAfterSeconds, 1);
    assert.equal(done, true);
    // Never held past the whole seconds it would have said: a 100 ms wait under a 5 s delay, 1 s.
    const capped = new FairShare({
      clock,
      refusalDelayMs: 5000,
      random: () => 1,
      defaults: { requests: { perSecond: 10, burst: 1 } },
    });
    ok(capped.admitRequest('a'));
    let answered = false;
    const once = refusal(capped.admitRequest('a')).then(() => {
      answered = true;
    });
    await clock.advanceAsync(999);
    assert.equal(answered, false);
    await clock.advanceAsync(1);
    await once;
    assert.equal(answered, true);
  });

  it('spreads held refusals over the second half of the delay', async () => {
    const clock = new FakeClock();
    const fair = new FairShare({
      clock,
      refusalDelayMs: 1000,
      random: () => 0,
      defaults: { requests: { perSecond: 0.1, burst: 1 } },
    });
    ok(fair.admitRequest('a'));
    let answered = false;
    const held = refusal(fair.admitRequest('a')).then((e) => {
      answered = true;
      return e;
    });
    await clock.advanceAsync(499);
    assert.equal(answered, false);
    await clock.advanceAsync(1);
    assert.equal((await held).retryAfterMs, 9500);
  });

  it('refuses rates that are not positive and bursts under one', async () => {
    assert.throws(() => new FairShare({ defaults: { requests: { perSecond: 0, burst: 1 } } }), RangeError);
    assert.throws(() => new FairShare({ defaults: { messages: { perSecond: 1, burst: 0.5 } } }), RangeError);
    assert.throws(
      () => new FairShare({ projects: { a: { requests: { perSecond: Number.NaN, burst: 1 } } } }),
      RangeError,
    );
  });
});
