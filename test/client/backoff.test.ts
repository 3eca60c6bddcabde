import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBackoff } from '../../src/client/backoff.js';
import { backoffDelay } from '../../src/client/index.js';
import { InvalidArgumentError } from '../../src/core/index.js';

describe('client: backoff', () => {
  it('grows exponentially up to max; jitter stays within its band', () => {
    const exact = { type: 'exponential' as const, base: 100, factor: 3, max: 2000, jitter: 'none' as const };
    assert.deepEqual(
      [1, 2, 3, 4].map((a) => backoffDelay(exact, a, null)),
      [100, 300, 900, 2000],
    );
    const equal = { type: 'exponential' as const, base: 1000 };
    assert.equal(
      backoffDelay(equal, 2, null, () => 0),
      1000,
      'equal jitter waits at least half',
    );
    assert.equal(
      backoffDelay(equal, 2, null, () => 1),
      2000,
    );
    assert.equal(
      backoffDelay({ ...equal, jitter: 'full' }, 2, null, () => 0.25),
      500,
    );
  });

  it('a function decides from the attempt and the error; a bad answer or option is an InvalidArgumentError', () => {
    const seen: unknown[] = [];
    assert.equal(
      backoffDelay(
        (attempt, error) => {
          seen.push(error);
          return attempt * 7;
        },
        3,
        'e',
      ),
      21,
    );
    assert.deepEqual(seen, ['e']);
    assert.throws(() => backoffDelay(() => -1, 1, null), InvalidArgumentError);
    assert.throws(() => backoffDelay(() => Number.NaN, 1, null), InvalidArgumentError);
    assert.throws(() => checkBackoff({ type: 'linear' } as never), InvalidArgumentError);
    assert.throws(() => checkBackoff({ type: 'exponential', base: -1 }), InvalidArgumentError);
  });
});
