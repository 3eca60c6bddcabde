import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServerConfig } from '../../src/server/config.js';

const load = (env: NodeJS.ProcessEnv) => loadServerConfig({ env, cwd: '/nonexistent-posthorn-dir' });

describe('server: auth settings', () => {
  it('defaults to noauth without a default project', () => {
    const { auth } = load({});
    assert.equal(auth.strategy, 'noauth');
    assert.equal(auth.defaultProject, null);
    assert.deepEqual(auth.roles.admin, ['admin']);
  });

  it('reads the strategy, the default project and the token secret from the environment', () => {
    const secret = 'x'.repeat(32);
    const { auth } = load({
      POSTHORN_AUTH_STRATEGY: 'token',
      POSTHORN_TOKEN_SECRET: secret,
      POSTHORN_DEFAULT_PROJECT: 'd',
    });
    assert.equal(auth.strategy, 'token');
    assert.equal(auth.defaultProject, 'd');
    assert.deepEqual(auth.token, { secret, keys: [] });
  });

  it('refuses an unknown strategy, a short secret, and token without any credential', () => {
    assert.throws(
      () => load({ POSTHORN_AUTH_STRATEGY: 'basic' }),
      /POSTHORN_AUTH_STRATEGY must be "noauth", "keystone" or "token"/,
    );
    assert.throws(
      () => load({ POSTHORN_AUTH_STRATEGY: 'token', POSTHORN_TOKEN_SECRET: 'short' }),
      /POSTHORN_TOKEN_SECRET must be a string of at least 32 characters/,
    );
    assert.throws(() => load({ POSTHORN_AUTH_STRATEGY: 'token' }), /neither \[token\] secret nor \[\[token.keys\]\]/);
    assert.throws(() => load({ POSTHORN_AUTH_STRATEGY: 'keystone' }), /keystone_authtoken.auth_url/);
  });
});
