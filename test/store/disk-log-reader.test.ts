/**
 * The log reader finds damage and reports it, with where it starts and how many bytes it spans,
 * to its reporter; what happens next is the reporter's decision: skip to the next intact record,
 * or end the segment where the damage starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DamageDecision, type LogDamage, LogReader, type LogRecord } from '../../src/store/disk/log-reader.js';
import { encodeEffect, encodeSeal } from '../../src/store/disk/record-codec.js';

const records = [1, 2, 3].map((lsn) =>
  encodeEffect({ type: 'messagesDelete', project: 'p', queue: `queue-${lsn}`, orders: [lsn] }, lsn),
);
const seal = encodeSeal(0, 1, 4096);

/** Reads `buf` as segment 2, answering every report with `decide`; what was read and reported. */
function read(buf: Buffer, decide: (damage: LogDamage) => DamageDecision) {
  const reported: LogDamage[] = [];
  const reader = new LogReader(buf, 2, 0, {
    corruption(damage) {
      reported.push(damage);
      return decide(damage);
    },
  });
  const read: LogRecord[] = [...reader.records()];
  return { read, reported, end: reader.end, truncated: reader.truncated };
}

function lsns(read: LogRecord[]): number[] {
  return read.flatMap((r) => (r.kind === 'effect' ? [r.lsn] : []));
}

describe('disk log reader', () => {
  it('reads a whole segment without a report', () => {
    const buf = Buffer.concat([seal, ...records]);
    const { read: got, reported, end, truncated } = read(buf, () => assert.fail('no damage to report'));
    assert.deepEqual(reported, []);
    assert.equal(got[0]?.kind, 'seal');
    assert.deepEqual(lsns(got), [1, 2, 3]);
    assert.equal(end, buf.length);
    assert.equal(truncated, false);
  });

  it('reports a corrupt record in the middle with its bytes, and skips it when told to', () => {
    const [first, middle, last] = records as [Buffer, Buffer, Buffer];
    const damaged = Buffer.from(middle);
    damaged.writeUInt8((damaged.at(-2) as number) ^ 0xff, damaged.length - 2); // a payload byte: the CRC no longer matches
    const buf = Buffer.concat([first, damaged, last]);
    const { read: got, reported, end, truncated } = read(buf, () => 'skip');
    assert.deepEqual(reported, [
      { offset: first.length, bytes: middle.length, reason: 'a record fails its checksum', atEnd: false },
    ]);
    assert.deepEqual(lsns(got), [1, 3]);
    assert.equal(end, buf.length);
    assert.equal(truncated, false);
  });

  it('ends the segment at a corrupt record in the middle when told to', () => {
    const [first, middle, last] = records as [Buffer, Buffer, Buffer];
    const damaged = Buffer.from(middle);
    damaged.write('XXXX', 0); // no magic: no record starts here
    const buf = Buffer.concat([first, damaged, last]);
    const { read: got, reported, end, truncated } = read(buf, () => 'truncate');
    assert.deepEqual(reported, [
      { offset: first.length, bytes: middle.length, reason: 'no record starts here', atEnd: false },
    ]);
    assert.deepEqual(lsns(got), [1]);
    assert.equal(end, first.length);
    assert.equal(truncated, true);
  });

  it('reports a torn tail with its bytes, and cuts it when told to', () => {
    const [first, middle, last] = records as [Buffer, Buffer, Buffer];
    const torn = last.subarray(0, last.length - 5);
    const buf = Buffer.concat([first, middle, torn]);
    const cut = read(buf, () => 'truncate');
    const tail = { offset: first.length + middle.length, bytes: torn.length, atEnd: true };
    assert.deepEqual(cut.reported, [{ ...tail, reason: 'a record runs past the end of the segment' }]);
    assert.deepEqual(lsns(cut.read), [1, 2]);
    assert.equal(cut.end, first.length + middle.length);
    assert.equal(cut.truncated, true);

    // Kept (the caller knows it for lost data, not a torn write): reading ends at the bytes' end.
    const kept = read(buf, () => 'skip');
    assert.deepEqual(kept.reported, cut.reported);
    assert.deepEqual(lsns(kept.read), [1, 2]);
    assert.equal(kept.end, buf.length);
    assert.equal(kept.truncated, false);
  });

  it('reports a record cut inside its header', () => {
    const [first] = records as [Buffer];
    const buf = Buffer.concat([first, Buffer.from([0x50, 0x48, 0x52])]);
    const { reported, end } = read(buf, () => 'truncate');
    assert.deepEqual(reported, [
      { offset: first.length, bytes: 3, reason: 'a record header is cut short', atEnd: true },
    ]);
    assert.equal(end, first.length);
  });
});
