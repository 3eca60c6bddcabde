import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClaimNotFoundError,
  CorruptDataError,
  checkCount,
  checkInteger,
  checkMessageBody,
  checkQueueMetadata,
  checkQueueName,
  DEFAULT_LIMITS,
  decodeValue,
  encodeValue,
  InvalidArgumentError,
  isId,
  isPosthornError,
  LimitExceededError,
  MessageClaimedError,
  makeLimits,
  NotFoundError,
  newId,
  type PosthornError,
  QueueNotFoundError,
  StorageUnavailableError,
} from '../../src/core/index.js';

describe('core: errors', () => {
  it('every error has a stable code, a name, and keeps its cause', () => {
    const cause = new Error('disk on fire');
    const errors: [PosthornError, string][] = [
      [new QueueNotFoundError('p', 'q'), 'PH_QUEUE_NOT_FOUND'],
      [new ClaimNotFoundError('q', 'c'), 'PH_CLAIM_NOT_FOUND'],
      [new InvalidArgumentError('ttl', 'too small'), 'PH_INVALID_ARGUMENT'],
      [new LimitExceededError('limit', 20, 21), 'PH_LIMIT_EXCEEDED'],
      [new MessageClaimedError('m'), 'PH_MESSAGE_CLAIMED'],
      [new StorageUnavailableError('down', { cause }), 'PH_STORAGE_UNAVAILABLE'],
      [new CorruptDataError('bad', { file: 'f', start: 1, end: 2 }), 'PH_CORRUPT_DATA'],
    ];
    for (const [error, code] of errors) {
      assert.equal(error.code, code);
      assert.equal(error.name, error.constructor.name);
      assert.ok(error instanceof Error);
      assert.ok(isPosthornError(error));
    }
    assert.equal(errors[5]?.[0].cause, cause);
    assert.ok(new QueueNotFoundError('p', 'q') instanceof NotFoundError);
    assert.match(new InvalidArgumentError('ttl', 'too small').message, /ttl/);
    assert.equal(isPosthornError(new Error('plain')), false);
  });
});

describe('core: ids', () => {
  it('ids are 32 hex characters, distinct, and sort by creation time', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) ids.add(newId(1_700_000_000_000));
    assert.equal(ids.size, 10_000);
    for (const id of ids) assert.ok(isId(id), id);
    assert.ok(newId(1000) < newId(2000));
    assert.equal(isId('nope'), false);
    assert.equal(isId(42), false);
  });
});

describe('core: limits', () => {
  it("the defaults are Zaqar's", () => {
    assert.equal(DEFAULT_LIMITS.maxMessagesPostSize, 262_144);
    assert.equal(DEFAULT_LIMITS.maxMessagesPerPage, 20);
    assert.equal(DEFAULT_LIMITS.maxMessagesPerClaimOrPop, 20);
    assert.equal(DEFAULT_LIMITS.defaultPageSize, 10);
    assert.equal(DEFAULT_LIMITS.defaultClaimLimit, 10);
    assert.deepEqual(
      [DEFAULT_LIMITS.minMessageTtl, DEFAULT_LIMITS.maxMessageTtl, DEFAULT_LIMITS.defaultMessageTtl],
      [60, 1_209_600, 3600],
    );
    assert.deepEqual([DEFAULT_LIMITS.minMessageDelay, DEFAULT_LIMITS.maxMessageDelay], [0, 900]);
    assert.deepEqual(
      [DEFAULT_LIMITS.minClaimTtl, DEFAULT_LIMITS.maxClaimTtl, DEFAULT_LIMITS.defaultClaimTtl],
      [60, 43_200, 300],
    );
    assert.deepEqual(
      [DEFAULT_LIMITS.minClaimGrace, DEFAULT_LIMITS.maxClaimGrace, DEFAULT_LIMITS.defaultClaimGrace],
      [60, 43_200, 60],
    );
    assert.equal(DEFAULT_LIMITS.maxQueueNameLength, 64);
    assert.equal(DEFAULT_LIMITS.maxProjectIdLength, 256);
    assert.equal(DEFAULT_LIMITS.maxQueueMetadataSize, 65_536);
    assert.ok(Object.isFrozen(DEFAULT_LIMITS));
  });

  it('makeLimits overrides and refuses nonsense', () => {
    assert.equal(makeLimits({ maxMessageTtl: 99_999_999 }).maxMessageTtl, 99_999_999);
    assert.throws(() => makeLimits({ minMessageTtl: 5000 }), RangeError);
    assert.throws(() => makeLimits({ maxMessagesPerPage: -1 }), RangeError);
    assert.throws(() => makeLimits({ nonsense: 1 } as never), RangeError);
  });
});

describe('core: validation', () => {
  it('queue names follow Zaqar’s pattern and length', () => {
    for (const good of ['a', 'A-b_c.9', 'x'.repeat(64)]) assert.equal(checkQueueName(good, DEFAULT_LIMITS), good);
    for (const bad of ['', 'a b', 'ü', 'a/b', 'x'.repeat(65), 5]) {
      assert.throws(
        () => checkQueueName(bad, DEFAULT_LIMITS),
        (e) => e instanceof InvalidArgumentError && e.field === 'queue',
      );
    }
  });

  it('numbers are integers in range; counts over the limit are LimitExceededError', () => {
    assert.equal(checkInteger(60, 'ttl', 60, 120), 60);
    assert.throws(() => checkInteger(59, 'ttl', 60, 120), InvalidArgumentError);
    assert.throws(() => checkInteger(60.5, 'ttl', 60, 120), InvalidArgumentError);
    assert.throws(() => checkInteger('60', 'ttl', 60, 120), InvalidArgumentError);
    assert.throws(() => checkCount(0, 'limit', 20), InvalidArgumentError);
    assert.throws(
      () => checkCount(21, 'limit', 20),
      (e) => e instanceof LimitExceededError && e.limit === 20,
    );
  });

  it('bodies are JSON values or bytes; metadata is a bounded JSON object', () => {
    checkMessageBody({ a: [1, 'x', null, true, new Uint8Array(2)] }, 'body');
    for (const bad of [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Map(),
      new Date(),
      () => 1,
      Symbol('s'),
      10n,
    ]) {
      assert.throws(() => checkMessageBody(bad, 'body'), InvalidArgumentError, String(bad));
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => checkMessageBody(cyclic, 'body'), InvalidArgumentError);
    assert.deepEqual(checkQueueMetadata({ a: 1 }, DEFAULT_LIMITS), { a: 1 });
    assert.throws(() => checkQueueMetadata({ b: new Uint8Array(1) }, DEFAULT_LIMITS), InvalidArgumentError);
    assert.throws(() => checkQueueMetadata({ big: 'x'.repeat(65_536) }, DEFAULT_LIMITS), LimitExceededError);
  });
});

describe('core: codec', () => {
  it('values round-trip through MessagePack, and garbage is CorruptDataError', () => {
    const value = { s: 'ü', n: [1, -2, 3.5], b: new Uint8Array([1, 2]), z: null, t: true };
    const back = decodeValue(encodeValue(value)) as typeof value;
    assert.deepEqual({ ...back, b: [...back.b] }, { ...value, b: [1, 2] });
    assert.throws(() => decodeValue(encodeValue({ text: 'cut short' }).subarray(0, 5)), CorruptDataError);
  });
});
