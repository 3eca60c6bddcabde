import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedSerializer } from '../../src/core/index.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('core: KeyedSerializer', () => {
  it('runs work of one key one at a time, in call order, even after a failure; other keys at once', async () => {
    const serializer = new KeyedSerializer();
    const log: string[] = [];
    const work =
      (name: string, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await tick();
        log.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const a1 = serializer.run('a', work('a1', true));
    const a2 = serializer.run('a', work('a2'));
    const b1 = serializer.run('b', work('b1'));
    await assert.rejects(a1, /a1/);
    assert.equal(await a2, 'a2');
    assert.equal(await b1, 'b1');
    // a2 starts only after a1 ended; b1 starts beside a1.
    assert.ok(log.indexOf('a2 start') > log.indexOf('a1 end'), log.join(', '));
    assert.ok(log.indexOf('b1 start') < log.indexOf('a1 end'), log.join(', '));
  });
});
