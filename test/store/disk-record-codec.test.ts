/**
 * The disk log's record format does not change when the state's names do: each effect is
 * written byte for byte as the log has always written it (the hex below was written by the
 * codec before the effects got their present names), and those bytes read back as the effect.
 * A folder written by any earlier version therefore still opens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADER_BYTES } from '../../src/store/disk/log-format.js';
import {
  decodeRecord,
  decodeSeal,
  encodeEffect,
  encodePost,
  encodeRelocate,
  encodeSeal,
} from '../../src/store/disk/record-codec.js';
import type { Effect, Post, Relocate } from '../../src/store/state/index.js';

const now = 1700000000123;

/** Each effect, the log sequence number it was written at, and the record the codec wrote. */
const MAPPED: [Exclude<Effect, Post | Relocate>, string][] = [
  [
    { type: 'queueCreate', project: 'proj', queue: 'jobs', metadata: { _max_messages_post_size: 1024, note: 'x' } },
    '504852310000004edb6233fa024024000000000000de0004a174a771637265617465a170a470726f6aa171a46a6f6273a46d657461de0002b75f6d61785f6d657373616765735f706f73745f73697a65cd0400a46e6f7465a178',
  ],
  [
    { type: 'queueMetadataSet', project: 'proj', queue: 'jobs', metadata: { _default_message_ttl: 60 } },
    '504852310000004039976bb1024026000000000000de0004a174a5716d657461a170a470726f6aa171a46a6f6273a46d657461de0001b45f64656661756c745f6d6573736167655f74746c3c',
  ],
  [
    { type: 'queueDelete', project: 'proj', queue: 'jobs' },
    '504852310000002400486c24024028000000000000de0003a174a77164656c657465a170a470726f6aa171a46a6f6273',
  ],
  [
    {
      type: 'claimCreate',
      project: 'proj',
      queue: 'jobs',
      id: 'c1',
      ttl: 30,
      grace: 60,
      now,
      orders: [1, 2],
      moves: [{ order: 3, to: 'dlq', seq: 11, ttl: null }],
    },
    '504852310000006d0628978502402a000000000000de0009a174a5636c61696da170a470726f6aa171a46a6f6273a26964a26331a374746c1ea567726163653ca36e6f77cb4278bcfe5687b000a66f7264657273920102a56d6f76657391de0004a56f7264657203a2746fa3646c71a37365710ba374746cc0',
  ],
  [
    { type: 'claimUpdate', project: 'proj', queue: 'jobs', id: 'c1', ttl: 40, grace: 10, now },
    '5048523100000043caac274102402c000000000000de0007a174a763757064617465a170a470726f6aa171a46a6f6273a26964a26331a374746c28a567726163650aa36e6f77cb4278bcfe5687b000',
  ],
  [
    { type: 'claimDelete', project: 'proj', queue: 'jobs', id: 'c1' },
    '504852310000002a607f1e3002402e000000000000de0004a174a76364656c657465a170a470726f6aa171a46a6f6273a26964a26331',
  ],
  [
    { type: 'messagesDelete', project: '', queue: 'jobs', orders: [4, 5] },
    '504852310000002904e00d2c024030000000000000de0004a174a664656c657465a170a0a171a46a6f6273a66f7264657273920405',
  ],
  [
    { type: 'pop', project: 'proj', queue: 'jobs', now, orders: [6], moves: [] },
    '504852310000003d75dcf984024031000000000000de0006a174a3706f70a170a470726f6aa171a46a6f6273a36e6f77cb4278bcfe5687b000a66f72646572739106a56d6f76657390',
  ],
  [
    {
      type: 'subscriptionCreate',
      project: 'proj',
      queue: 'jobs',
      id: 's1',
      subscriber: 'http://x',
      ttl: 3600,
      options: { a: 1 },
      now,
    },
    '5048523100000060f1a4d0b2024032000000000000de0008a174a773637265617465a170a470726f6aa171a46a6f6273a26964a27331aa73756273637269626572a8687474703a2f2f78a374746ccd0e10a76f7074696f6e73de0001a16101a36e6f77cb4278bcfe5687b000',
  ],
  [
    { type: 'subscriptionUpdate', project: 'proj', queue: 'jobs', id: 's1', ttl: 60, now },
    '504852310000003caa5a5c93024033000000000000de0006a174a773757064617465a170a470726f6aa171a46a6f6273a26964a27331a374746c3ca36e6f77cb4278bcfe5687b000',
  ],
  [
    {
      type: 'subscriptionUpdate',
      project: 'proj',
      queue: 'jobs',
      id: 's1',
      subscriber: 'mailto:a@b',
      options: { b: 2 },
      now,
    },
    '504852310000005bb1f87d86024034000000000000de0007a174a773757064617465a170a470726f6aa171a46a6f6273a26964a27331aa73756273637269626572aa6d61696c746f3a614062a76f7074696f6e73de0001a16202a36e6f77cb4278bcfe5687b000',
  ],
  [
    { type: 'subscriptionDelete', project: 'proj', queue: 'jobs', id: 's1' },
    '504852310000002ad0e195bd024035000000000000de0004a174a77364656c657465a170a470726f6aa171a46a6f6273a26964a27331',
  ],
  [
    { type: 'subscriptionConfirm', project: 'proj', queue: 'jobs', id: 's1', confirmed: true },
    '5048523100000036df79c588024036000000000000de0005a174a873636f6e6669726da170a470726f6aa171a46a6f6273a26964a27331a9636f6e6669726d6564c3',
  ],
];

const POST_HEX =
  '504852310000005937d4c45404403e000000000000000470726f6a046a6f62730003636c694278bcfe5687b0004035000000000000000000020000012c000000000005000000003c000500000002074d44353a616263d0e0396a616c7068612bca8e0d6265';
const KEYED_POST_HEX =
  '504852310000006c43293df107403f000000000000000470726f6a046a6f62730003636c694278bcfe5687b000403500000000000000000002056b65792d3104616231324278bcfe56c630000000012c000000000005000000003c000500000002074d44353a616263d0e0396a616c7068612bca8e0d6265';
const RELOCATE_HEX =
  '504852310000003191b23d58054040000000000000000000159294a470726f6aa46a6f6273070594a0a271320802d0e0396a616c7068612bca8e0d6265';
const SEAL_HEX = '50485231000000155be26439064040800000000000000000024093480000000000';

const bodies = [Buffer.from('alpha'), Buffer.from('be')];

function post(): Post {
  return {
    type: 'post',
    project: 'proj',
    queue: 'jobs',
    client: 'cli',
    now,
    seq: 21,
    messages: [
      { ttl: 300, delay: 0, checksum: null, length: 5, ref: 0 },
      { ttl: 60, delay: 5, checksum: 'MD5:abc', length: 2, ref: 0 },
    ],
  };
}

/** Decodes a whole record written at `offset` of `segment`. */
function decode(record: Buffer, segment: number, offset: number) {
  return decodeRecord(record.subarray(HEADER_BYTES), segment, offset + HEADER_BYTES);
}

describe('disk log record format', () => {
  it('writes every mapped effect as before and reads it back under the state names', () => {
    MAPPED.forEach(([effect, hex], k) => {
      const lsn = 10 + k;
      const record = encodeEffect(effect, lsn);
      assert.equal(record.toString('hex'), hex, effect.type);
      assert.deepEqual(decode(Buffer.from(hex, 'hex'), 1, 0), { lsn, effect, bodyCrc: false }, effect.type);
    });
  });

  it('writes posts, with and without an idempotency key, as before', () => {
    const plain = post();
    assert.equal(encodePost(plain, 30, bodies, 3, 100).toString('hex'), POST_HEX);
    assert.deepEqual(
      plain.messages.map((m) => m.ref),
      [12884902078, 12884902087],
    );
    assert.deepEqual(decode(Buffer.from(POST_HEX, 'hex'), 3, 100), { lsn: 30, effect: plain, bodyCrc: true });

    const keyed: Post = { ...post(), idempotency: { key: 'key-1', fingerprint: 'ab12', until: now + 1000 } };
    assert.equal(encodePost(keyed, 31, bodies, 3, 200).toString('hex'), KEYED_POST_HEX);
    assert.deepEqual(decode(Buffer.from(KEYED_POST_HEX, 'hex'), 3, 200), { lsn: 31, effect: keyed, bodyCrc: true });
  });

  it('writes relocations and seals as before', () => {
    const relocate: Relocate = {
      type: 'relocate',
      entries: [
        { project: 'proj', queue: 'jobs', order: 7, ref: 0 },
        { project: '', queue: 'q2', order: 8, ref: 0 },
      ],
    };
    assert.equal(encodeRelocate(relocate, 32, bodies, 4, 0).toString('hex'), RELOCATE_HEX);
    assert.deepEqual(
      relocate.entries.map((e) => e.ref),
      [17179869234, 17179869243],
    );
    assert.deepEqual(decode(Buffer.from(RELOCATE_HEX, 'hex'), 4, 0), { lsn: 32, effect: relocate, bodyCrc: true });

    const seal = encodeSeal(33, 2, 1234);
    assert.equal(seal.toString('hex'), SEAL_HEX);
    assert.deepEqual(decodeSeal(seal.subarray(HEADER_BYTES)), { segment: 2, size: 1234 });
  });

  it('passes over a stored effect of a type it does not know', () => {
    const record = Buffer.from(MAPPED[2]?.[1] as string, 'hex');
    // 'qdelete' -> 'qdelet!' (a later version's effect): only the decoding is asked here, not the CRC.
    record.write('!', record.indexOf('qdelete') + 6);
    assert.deepEqual(decode(record, 1, 0), { lsn: 12, effect: null, bodyCrc: false });
  });
});
