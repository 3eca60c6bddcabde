import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { UnauthenticatedError } from '../../../src/core/index.js';
import { issueToken, parseTtl, TokenAuthenticator } from '../../../src/service/index.js';

const SECRET = 'unit-test-secret-of-at-least-32-chars';

describe('service/auth: token authenticator', () => {
  it('accepts a token it issued, with its project, roles and expiry', async () => {
    const now = 1_800_000_000_000;
    const auth = new TokenAuthenticator({ secret: SECRET, keys: [] }, () => now);
    const token = await issueToken(
      SECRET,
      { project: 'p', roles: ['member', 'x'], ttlSeconds: 600, subject: 'u1' },
      now,
    );
    const identity = await auth.authenticate({ token, projectId: undefined });
    assert.deepEqual(identity, {
      project: 'p',
      user: 'u1',
      roles: ['member', 'x'],
      expiresAt: now + 600_000,
      strategy: 'token',
    });
  });

  it('refuses expired, unsigned (alg none), other-issuer and project-less tokens', async () => {
    const now = 1_800_000_000_000;
    const auth = new TokenAuthenticator({ secret: SECRET, keys: [] }, () => now);
    const key = new TextEncoder().encode(SECRET);
    const expired = await issueToken(SECRET, { project: 'p', roles: [], ttlSeconds: 60 }, now - 61_000);
    const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ project: 'p', exp: now / 1000 + 60, iss: 'posthorn', aud: 'posthorn' }),
    ).toString('base64url')}.`;
    const otherIssuer = await new SignJWT({ project: 'p' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('someone-else')
      .setAudience('posthorn')
      .setExpirationTime(now / 1000 + 60)
      .sign(key);
    const noProject = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('posthorn')
      .setAudience('posthorn')
      .setExpirationTime(now / 1000 + 60)
      .sign(key);
    for (const token of [expired, noneAlg, otherIssuer, noProject]) {
      await assert.rejects(auth.authenticate({ token, projectId: undefined }), (error: unknown) => {
        assert.ok(error instanceof UnauthenticatedError);
        assert.equal(error.challenge, 'Bearer realm="posthorn"');
        return true;
      });
    }
  });

  it('accepts an API key by its sha256 and nothing close to it', async () => {
    const hash = createHash('sha256').update('the-key').digest('hex');
    const auth = new TokenAuthenticator({ secret: null, keys: [{ hash, project: 'k', roles: ['reader'] }] });
    const identity = await auth.authenticate({ token: 'the-key', projectId: undefined });
    assert.equal(identity.project, 'k');
    assert.deepEqual(identity.roles, ['reader']);
    await assert.rejects(auth.authenticate({ token: 'the-key ', projectId: undefined }), UnauthenticatedError);
    await assert.rejects(auth.authenticate({ token: hash, projectId: undefined }), UnauthenticatedError);
  });

  it('reads --ttl durations', () => {
    assert.equal(parseTtl('90'), 90);
    assert.equal(parseTtl('30m'), 1800);
    assert.equal(parseTtl('1h'), 3600);
    assert.equal(parseTtl('7d'), 604_800);
    assert.throws(() => parseTtl('0h'));
    assert.throws(() => parseTtl('1w'));
  });
});
