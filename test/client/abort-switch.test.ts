import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortSwitch } from '../../src/client/abort-switch.js';

describe('client: abort switch', () => {
  it('a signal asked for after the abort is already aborted, with the first reason', () => {
    const early = new AbortSwitch();
    const first = new Error('lease lost');
    early.abort(first);
    early.abort(new Error('closed'));
    assert.equal(early.signal.aborted, true);
    assert.equal(early.signal.reason, first);
  });

  it('a signal asked for before the abort fires its abort event once', () => {
    const later = new AbortSwitch();
    const signal = later.signal;
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    assert.equal(signal.aborted, false);
    assert.equal(later.signal, signal, 'one signal per switch');
    later.abort('gone');
    later.abort('again');
    assert.deepEqual([signal.aborted, signal.reason, fired], [true, 'gone', 1]);
  });
});
