import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, sleep, systemClock } from '../../src/core/index.js';

describe('core: clock', () => {
  it('a fake clock moves only when told, and fires timers in due order at their own instant', () => {
    const clock = new FakeClock(1000);
    const fired: [string, number][] = [];
    clock.setTimer(300, () => fired.push(['c', clock.now()]));
    clock.setTimer(100, () => fired.push(['a', clock.now()]));
    const cancelled = clock.setTimer(150, () => fired.push(['x', clock.now()]));
    clock.setTimer(100, () => fired.push(['b', clock.now()]));
    cancelled.cancel();
    assert.equal(clock.pendingTimers, 3);
    clock.advance(99);
    assert.deepEqual(fired, []);
    assert.equal(clock.now(), 1099);
    clock.advance(1);
    assert.deepEqual(fired, [
      ['a', 1100],
      ['b', 1100],
    ]);
    clock.advance(1000);
    assert.deepEqual(fired[2], ['c', 1300]);
    assert.equal(clock.now(), 2100);
    assert.equal(clock.pendingTimers, 0);
    assert.throws(() => clock.advance(-1), RangeError);
  });

  it('timers set by timers fire in the same advance when due', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimer(10, () => {
      fired.push(clock.now());
      clock.setTimer(10, () => fired.push(clock.now()));
    });
    clock.advance(25);
    assert.deepEqual(fired, [10, 20]);
  });

  it('advanceAsync lets async work started by a timer finish before the next timer', async () => {
    const clock = new FakeClock(0);
    const log: string[] = [];
    clock.setTimer(10, async () => {
      log.push('start');
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
      log.push('end');
    });
    clock.setTimer(20, () => log.push('second'));
    await clock.advanceAsync(30);
    assert.deepEqual(log, ['start', 'end', 'second']);
  });

  it('sleep resolves after the clock has moved', async () => {
    const clock = new FakeClock(0);
    let done = false;
    const slept = sleep(clock, 50).then(() => {
      done = true;
    });
    await clock.advanceAsync(49);
    assert.equal(done, false);
    await clock.advanceAsync(1);
    await slept;
    assert.equal(done, true);
  });

  it('the system clock tells real time and its timers fire', async () => {
    const before = Date.now();
    assert.ok(systemClock.now() >= before);
    // System timers do not hold the process open, so something else must while this one waits.
    const keepAlive = setInterval(() => {}, 1000);
    await new Promise<void>((resolve) => systemClock.setTimer(5, resolve));
    clearInterval(keepAlive);
    assert.ok(systemClock.now() >= before + 4);
  });
});
