import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '../../src/core/index.js';
import {
  checkClientId,
  checkProjectId,
  DEFAULT_CLIENT_ID_POLICY,
  parseUuid,
  RequestRefusedError,
} from '../../src/service/index.js';

const CANONICAL = '3381af92-2b9e-11e3-b191-71861300734c';

describe('service: Client-ID and project', () => {
  it('reads UUIDs the way Python does, in every spelling, to one canonical form', () => {
    for (const spelling of [
      CANONICAL,
      '3381AF92-2B9E-11E3-B191-71861300734C',
      '3381af922b9e11e3b19171861300734c',
      '{3381af92-2b9e-11e3-b191-71861300734c}',
      'urn:uuid:3381af92-2b9e-11e3-b191-71861300734c',
      '3381-af92-2b9e-11e3-b191-7186-1300-734c',
    ]) {
      assert.equal(parseUuid(spelling), CANONICAL, spelling);
    }
    for (const bad of [
      '',
      '0xdeadbeef',
      '550893e0-2b6e-11e3-835a-5cf9dd72369',
      'textid',
      `${CANONICAL}0`,
      'g'.repeat(32),
    ]) {
      assert.equal(parseUuid(bad), null, bad);
    }
  });

  it('strict mode wants a UUID; off mode takes 10 to 36 characters of anything', () => {
    assert.equal(checkClientId(CANONICAL, DEFAULT_CLIENT_ID_POLICY), CANONICAL);
    assert.equal(checkClientId('3381AF922B9E11E3B19171861300734C', DEFAULT_CLIENT_ID_POLICY), CANONICAL);
    assert.throws(
      () => checkClientId(undefined, DEFAULT_CLIENT_ID_POLICY),
      (e: unknown) => e instanceof RequestRefusedError && e.title === 'Missing header value',
    );
    assert.throws(
      () => checkClientId('textid', DEFAULT_CLIENT_ID_POLICY),
      (e: unknown) =>
        e instanceof RequestRefusedError && e.title === 'Wrong UUID value' && e.code === 'PH_INVALID_ARGUMENT',
    );
    const off = { mode: 'off' as const, minLength: 10, maxLength: 36 };
    assert.equal(checkClientId('worker-0001', off), 'worker-0001', 'kept as given');
    assert.equal(checkClientId('x'.repeat(36), off), 'x'.repeat(36));
    assert.throws(() => checkClientId('short', off), /at least 10 and at most 36/);
    assert.throws(() => checkClientId('x'.repeat(37), off), RequestRefusedError);
  });

  it('a project is required, not empty, at most 256 characters, and has no control characters', () => {
    assert.equal(checkProjectId('JAM Project', DEFAULT_LIMITS), 'JAM Project', 'no charset restrictions');
    assert.equal(checkProjectId('p'.repeat(256), DEFAULT_LIMITS).length, 256);
    const refusals: [string | undefined, string][] = [
      [undefined, 'Project-Id Missing'],
      ['', 'Empty project header not allowed'],
      ['p'.repeat(257), 'Invalid queue identification'],
      ['tab\u001fbed', 'Invalid queue identification'],
    ];
    for (const [value, title] of refusals) {
      assert.throws(
        () => checkProjectId(value, DEFAULT_LIMITS),
        (e: unknown) => e instanceof RequestRefusedError && e.title === title,
        String(value),
      );
    }
  });
});
