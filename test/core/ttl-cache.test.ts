import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/core/clock.js';
import { TtlCache } from '../../src/core/ttl-cache.js';

function counted<V>(value: V): { load: () => Promise<V>; calls: () => number; gate: () => void } {
  let calls = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    load: async () => {
      calls += 1;
      await opened;
      return value;
    },
    calls: () => calls,
    gate: () => open(),
  };
}

describe('core: TtlCache', () => {
  it('serves a loaded value for the ttl, then loads again', async () => {
    const clock = new FakeClock(1_000);
    const cache = new TtlCache<string>({ ttlMs: 100, maxEntries: 10, clock });
    const first = counted('a');
    first.gate();
    assert.equal(await cache.get('k', first.load), 'a');
    assert.equal(await cache.get('k', first.load), 'a');
    assert.equal(first.calls(), 1);
    assert.equal(cache.peek('k'), 'a');
    clock.advance(99);
    assert.equal(cache.peek('k'), 'a');
    clock.advance(1);
    assert.equal(cache.peek('k'), undefined);
    assert.equal(await cache.get('k', first.load), 'a');
    assert.equal(first.calls(), 2);
  });

  it('lets concurrent gets of one key share one load, and a failed load is not kept', async () => {
    const cache = new TtlCache<number>({ ttlMs: 100, maxEntries: 10, clock: new FakeClock(0) });
    const slow = counted(7);
    const both = Promise.all([cache.get('k', slow.load), cache.get('k', slow.load)]);
    slow.gate();
    assert.deepEqual(await both, [7, 7]);
    assert.equal(slow.calls(), 1);
    let failures = 0;
    const failing = async (): Promise<number> => {
      failures += 1;
      throw new Error('store down');
    };
    await assert.rejects(cache.get('x', failing), /store down/);
    await assert.rejects(cache.get('x', failing), /store down/);
    assert.equal(failures, 2);
    assert.equal(cache.peek('x'), undefined);
  });

  it('does not keep a load that a delete overtook', async () => {
    const cache = new TtlCache<string>({ ttlMs: 100, maxEntries: 10, clock: new FakeClock(0) });
    const stale = counted('old');
    const inFlight = cache.get('k', stale.load);
    cache.delete('k');
    const fresh = counted('new');
    fresh.gate();
    assert.equal(await cache.get('k', fresh.load), 'new');
    stale.gate();
    assert.equal(await inFlight, 'old', 'the overtaken load still answers its own caller');
    assert.equal(cache.peek('k'), 'new');
  });

  it('starts over when full rather than growing', async () => {
    const cache = new TtlCache<number>({ ttlMs: 100, maxEntries: 3, clock: new FakeClock(0) });
    for (const key of ['a', 'b', 'c']) cache.set(key, 1);
    cache.set('a', 2);
    assert.equal(cache.size, 3, 'replacing a key does not clear');
    cache.set('d', 1);
    assert.equal(cache.size, 1);
    assert.equal(cache.peek('a'), undefined);
    assert.equal(cache.peek('d'), 1);
  });
});
