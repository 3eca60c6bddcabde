import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS, ResourceConflictError } from '../../src/core/index.js';
import {
  applyMetadataPatch,
  checkReservedMetadata,
  isUnset,
  parseMetadataPatch,
  postTerms,
  RequestRefusedError,
  reservedDefaults,
  withReservedDefaults,
} from '../../src/service/index.js';

describe('service: reserved queue metadata', () => {
  it('treats the values Python finds false as unset', () => {
    for (const value of [undefined, null, false, 0, '', [], {}])
      assert.equal(isUnset(value), true, JSON.stringify(value));
    for (const value of [true, 1, -1, 'x', [0], { a: 0 }]) assert.equal(isUnset(value), false, JSON.stringify(value));
  });

  it('fills in defaults for missing or unset reserved keys only, queues showing more than topics', () => {
    const queue = withReservedDefaults(
      { mine: 1, _default_message_ttl: 0, _max_claim_count: 5 },
      reservedDefaults('queue', DEFAULT_LIMITS),
    );
    assert.deepEqual(queue, {
      mine: 1,
      _default_message_ttl: 3600,
      _max_claim_count: 5,
      _max_messages_post_size: 262144,
      _default_message_delay: 0,
      _dead_letter_queue: null,
      _dead_letter_queue_messages_ttl: null,
      _enable_encrypt_messages: false,
    });
    const topic = withReservedDefaults({}, reservedDefaults('topic', DEFAULT_LIMITS));
    assert.deepEqual(Object.keys(topic).sort(), [
      '_default_message_delay',
      '_default_message_ttl',
      '_max_messages_post_size',
    ]);
  });

  it('post terms take the queue values when set and valid, the server limits otherwise', () => {
    assert.deepEqual(postTerms(null, DEFAULT_LIMITS), {
      maxPostSize: 262144,
      defaultTtl: 3600,
      defaultDelay: 0,
      hidesDelayed: false,
      encrypt: false,
    });
    assert.deepEqual(
      postTerms(
        { _max_messages_post_size: 1023, _default_message_ttl: 999, _default_message_delay: 30 },
        DEFAULT_LIMITS,
      ),
      { maxPostSize: 1023, defaultTtl: 999, defaultDelay: 30, hidesDelayed: true, encrypt: false },
    );
    assert.equal(postTerms({ _enable_encrypt_messages: true }, DEFAULT_LIMITS).encrypt, true);
    assert.equal(
      postTerms({ _enable_encrypt_messages: 'yes' }, DEFAULT_LIMITS).encrypt,
      false,
      'only true turns it on',
    );
    assert.equal(
      postTerms({ _max_messages_post_size: 10 ** 9 }, DEFAULT_LIMITS).maxPostSize,
      262144,
      'never above the server',
    );
  });

  it('checks every reserved key and ignores the user keys', () => {
    checkReservedMetadata(
      { anything: [1, { deep: true }], _unknown_underscore: 'fine', _default_message_ttl: 0 },
      DEFAULT_LIMITS,
    );
    checkReservedMetadata(
      {
        _max_messages_post_size: 262144,
        _default_message_ttl: 60,
        _default_message_delay: 900,
        _max_claim_count: 3,
        _dead_letter_queue: 'dlq.1',
        _dead_letter_queue_messages_ttl: 1209600,
        _enable_encrypt_messages: true,
        _flavor: 'gold',
        _retry_policy: { minimum_delay: 5, maximum_delay: 30, retry_backoff_function: 'exponential' },
      },
      DEFAULT_LIMITS,
    );
    const bad = [
      { _max_messages_post_size: 262145 },
      { _default_message_ttl: 1209601 },
      { _default_message_ttl: 60.5 },
      { _default_message_delay: -1 },
      { _max_claim_count: 'three' },
      { _dead_letter_queue: 'a/b' },
      { _dead_letter_queue: 7 },
      { _dead_letter_queue_messages_ttl: 59 },
      { _enable_encrypt_messages: 1 },
      { _flavor: 3 },
      { _retry_policy: 'linear' },
      { _retry_policy: { retries_with_no_delay: -1 } },
      { _retry_policy: { ignore_subscription_override: 'yes' } },
      { _retry_policy: { minimum_delay: 30, maximum_delay: 5 } },
    ];
    for (const metadata of bad) {
      assert.throws(
        () => checkReservedMetadata(metadata, DEFAULT_LIMITS),
        RequestRefusedError,
        JSON.stringify(metadata),
      );
    }
  });
});

describe('service: metadata JSON patches', () => {
  const reserved = new Set(['_default_message_ttl']);

  it('parses operations on /metadata/<key>, unescaping ~0 and ~1', () => {
    assert.deepEqual(
      parseMetadataPatch([
        { op: 'add', path: '/metadata/a~1b', value: 1 },
        { op: 'replace', path: '/METADATA/c~0d', value: null },
        { op: 'remove', path: '/metadata/e' },
      ]),
      [
        { op: 'add', key: 'a/b', value: 1 },
        { op: 'replace', key: 'c~d', value: null },
        { op: 'remove', key: 'e' },
      ],
    );
  });

  it('applies them to a copy; replacing or removing an absent key conflicts unless it is reserved', () => {
    const original = { a: 1, b: 2 };
    const next = applyMetadataPatch(
      original,
      parseMetadataPatch([
        { op: 'replace', path: '/metadata/a', value: 10 },
        { op: 'remove', path: '/metadata/b' },
        { op: 'add', path: '/metadata/c', value: 3 },
        { op: 'replace', path: '/metadata/_default_message_ttl', value: 300 },
        { op: 'remove', path: '/metadata/_default_message_ttl' },
        { op: 'remove', path: '/metadata/_default_message_ttl' },
      ]),
      reserved,
    );
    assert.deepEqual(next, { a: 10, c: 3 });
    assert.deepEqual(original, { a: 1, b: 2 }, 'the input is left alone');
    assert.throws(
      () => applyMetadataPatch(original, [{ op: 'replace', key: 'zz', value: 1 }], reserved),
      ResourceConflictError,
    );
    assert.throws(() => applyMetadataPatch(original, [{ op: 'remove', key: 'zz' }], reserved), ResourceConflictError);
  });
});
