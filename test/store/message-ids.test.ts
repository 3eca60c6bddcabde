import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MessageIdCodec } from '../../src/store/state/message-ids.js';

describe('store: message ids', () => {
  const codec = new MessageIdCodec(0xdeadbeef, 0x12345678);

  it('every sequence number round-trips, as 32 lowercase hex characters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 48 - 1 }), (seq) => {
        const id = codec.format(seq);
        assert.match(id, /^[0-9a-f]{32}$/);
        assert.equal(codec.parse(id), seq);
      }),
    );
  });

  it('ids sort by sequence number', () => {
    assert.ok(codec.format(255) < codec.format(256));
    assert.ok(codec.format(2 ** 24 - 1) < codec.format(2 ** 24));
  });

  it('ids of another store, or with any character changed, are not recognised', () => {
    const other = new MessageIdCodec(0xdeadbeee, 0x12345678);
    const salted = new MessageIdCodec(0xdeadbeef, 0x12345679);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: 31 }), (seq, at) => {
        const id = codec.format(seq);
        assert.equal(other.parse(id), -1);
        assert.equal(salted.parse(id), -1);
        const changed = id.slice(0, at) + (id[at] === 'a' ? 'b' : 'a') + id.slice(at + 1);
        assert.equal(codec.parse(changed), -1, `${changed} was taken for ${id}`);
      }),
    );
    for (const bad of ['', 'x'.repeat(32), codec.format(7).toUpperCase(), `${codec.format(7)}0`])
      assert.equal(codec.parse(bad), -1);
  });
});
