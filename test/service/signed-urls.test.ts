import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatExpires, parseIsoDate, signUrl, verifySignature } from '../../src/service/index.js';
import { tamperHex } from '../fixtures/tamper.js';

const NOW = Date.UTC(2026, 0, 1);

/**
 * Made with Python's hmac the way Zaqar's create_signed_url makes it:
 *   hmac.new(b'test-secret', r'%s\n%s\n%s\n%s' % (paths, methods, project, expires), sha256).hexdigest()
 * with paths "/v2/queues/shared_queue/messages,/v2/queues/shared_queue/subscriptions",
 * methods "GET,POST", project "test-project", expires "2026-01-02T00:00:00".
 */
const ZAQAR_SIGNATURE = '15fd904f4789246ddfaf3e7a671eab91b249165824774eb21acbd493cfbc91fb';
const PATHS = ['/v2/queues/shared_queue/subscriptions', '/v2/queues/shared_queue/messages'];

describe('service: pre-signed URLs', () => {
  it("computes Zaqar's signature: sorted lists, literal backslash-n separators", () => {
    const signed = signUrl({
      secret: 'test-secret',
      paths: PATHS,
      methods: ['POST', 'GET'],
      project: 'test-project',
      expires: '2026-01-02T00:00:00',
      now: NOW,
    });
    assert.equal(signed.signature, ZAQAR_SIGNATURE);
    assert.deepEqual(signed.paths, [...PATHS].sort());
    assert.deepEqual(signed.methods, ['GET', 'POST']);
  });

  it('reads ISO 8601 dates with zones and fractions, and refuses impossible ones', () => {
    assert.equal(parseIsoDate('2026-01-02T00:00:00'), Date.UTC(2026, 0, 2));
    assert.equal(parseIsoDate('2026-01-02T00:00:00Z'), Date.UTC(2026, 0, 2));
    assert.equal(parseIsoDate('2026-01-02T01:30:00+01:30'), Date.UTC(2026, 0, 2));
    assert.equal(parseIsoDate('2026-01-01T20:00:00-04:00'), Date.UTC(2026, 0, 2));
    assert.equal(parseIsoDate('2026-01-02T00:00:00.250'), Date.UTC(2026, 0, 2) + 250);
    assert.equal(parseIsoDate('2026-01-02'), Date.UTC(2026, 0, 2));
    for (const bad of ['tomorrow', '2026-13-01T00:00:00', '2026-02-30', '2026-01-02T24:00:00', '2026-01-02T00:61:00']) {
      assert.equal(parseIsoDate(bad), null, bad);
    }
    assert.equal(formatExpires(Date.UTC(2026, 0, 2) + 999), '2026-01-02T00:00:00');
  });

  it('verifies only the signed methods, under the signed paths, for the signed project, until expiry', () => {
    const secret = 'test-secret';
    const signed = signUrl({ secret, paths: PATHS, methods: ['GET'], project: 'test-project', now: NOW });
    const presented = {
      signature: signed.signature,
      expires: signed.expires,
      methods: signed.methods.join(','),
      paths: signed.paths.join(','),
      project: 'test-project',
      method: 'GET',
      path: '/v2/queues/shared_queue/messages',
    };
    assert.equal(verifySignature(presented, secret, NOW), true);
    assert.equal(verifySignature({ ...presented, path: '/v2/queues/shared_queue/messages/abc' }, secret, NOW), true);
    assert.equal(verifySignature({ ...presented, method: 'POST' }, secret, NOW), false);
    assert.equal(verifySignature({ ...presented, methods: 'GET,POST', method: 'POST' }, secret, NOW), false);
    assert.equal(verifySignature({ ...presented, path: '/v2/queues/shared_queue/claims' }, secret, NOW), false);
    assert.equal(verifySignature({ ...presented, project: 'other' }, secret, NOW), false);
    assert.equal(verifySignature({ ...presented, signature: tamperHex(signed.signature) }, secret, NOW), false);
    assert.equal(verifySignature(presented, 'another-secret', NOW), false);
    assert.equal(verifySignature(presented, null, NOW), false);
    assert.equal(verifySignature(presented, secret, NOW + 86_400_000), false, 'expired');
  });

  it('refuses integer and past expiry dates', () => {
    const base = { secret: 's', paths: PATHS, project: 'p', now: NOW };
    assert.throws(() => signUrl({ ...base, expires: 1767312000 }), /not a number/);
    assert.throws(() => signUrl({ ...base, expires: '1767312000' }), /not a number/);
    assert.throws(() => signUrl({ ...base, expires: '2025-01-01T00:00:00' }), /later than/);
    assert.throws(() => signUrl({ ...base, expires: 'soon' }), /ISO 8601/);
  });
});
