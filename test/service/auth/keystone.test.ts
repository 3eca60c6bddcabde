import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import {
  FakeClock,
  ForbiddenError,
  IdentityUnavailableError,
  silentLogger,
  UnauthenticatedError,
} from '../../../src/core/index.js';
import { KeystoneAuthenticator, type KeystoneFetch } from '../../../src/service/auth/keystone-authenticator.js';
import { keystoneSettingsFrom } from '../../../src/service/auth/keystone-settings.js';
import { type Keystone, keystoneMissing, startKeystone } from '../../fixtures/keystone.js';

/**
 * The keystone strategy against a real keystone (Debian's python3-keystone on MariaDB, started
 * once for this file, ~40 s): identities as keystone gives them, the token cache and its limits,
 * revocation, malformed tokens, the service token's renewal, and keystone going away.
 */

const missing = keystoneMissing();
// Under CI a missing keystone is a failure, never a skip: .ci/run installs it.
const skip = missing !== null && process.env.CI !== 'true' ? missing : false;

interface Seen {
  method: string;
  path: string;
  status: number;
  subjectToken: string | null;
}

/** undici's fetch, recording every request the authenticator makes and the answer's status. */
function countingFetch(): { fetch: KeystoneFetch; seen: Seen[]; validations: () => number; logins: () => number } {
  const seen: Seen[] = [];
  const fetch: KeystoneFetch = async (url, init) => {
    const response = await undiciFetch(url, init);
    seen.push({
      method: init.method,
      path: new URL(url).pathname,
      status: response.status,
      subjectToken: response.headers.get('x-subject-token'),
    });
    return response;
  };
  return {
    fetch,
    seen,
    validations: () => seen.filter((s) => s.method === 'GET' && s.path.endsWith('/auth/tokens')).length,
    logins: () => seen.filter((s) => s.method === 'POST' && s.path.endsWith('/auth/tokens')).length,
  };
}

async function refusal<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}, but it was accepted`);
}

describe('service/auth: KeystoneAuthenticator against a real keystone', { skip, timeout: 600_000 }, () => {
  let keystone: Keystone;
  const made: KeystoneAuthenticator[] = [];
  /** An authenticator on this keystone with a fake clock that starts at the real time. */
  const authenticator = (cacheSeconds: number, overrides: Record<string, unknown> = {}) => {
    const clock = new FakeClock(Date.now());
    const counter = countingFetch();
    const settings = keystoneSettingsFrom({ ...keystone.authtoken, token_cache_time: cacheSeconds, ...overrides });
    const auth = new KeystoneAuthenticator(settings, { clock, fetch: counter.fetch, logger: silentLogger });
    made.push(auth);
    return { auth, clock, ...counter };
  };

  before(async () => {
    if (missing !== null) assert.fail(missing);
    keystone = await startKeystone('http://127.0.0.1:8888');
  });

  after(async () => {
    for (const auth of made) await auth.close();
    await keystone?.destroy();
  });

  it('a member and a reader get their project, user, roles and expiry from keystone', async () => {
    const { auth } = authenticator(300);
    const alice = await auth.authenticate({ token: await keystone.issueToken('alice'), projectId: undefined });
    assert.equal(alice.project, keystone.projects.demo);
    assert.equal(alice.user, keystone.users.alice);
    assert.equal(alice.strategy, 'keystone');
    assert.ok(alice.roles.includes('member'), `alice's roles: ${alice.roles.join(', ')}`);
    assert.ok(!alice.roles.includes('admin'));
    assert.ok(alice.expiresAt !== null && alice.expiresAt > Date.now(), 'a fresh token expires in the future');

    const bobToken = await keystone.issueToken('bob');
    const bob = await auth.authenticate({ token: bobToken, projectId: keystone.projects.demo });
    assert.equal(bob.project, keystone.projects.demo);
    assert.equal(bob.user, keystone.users.bob);
    assert.ok(bob.roles.includes('reader'), `bob's roles: ${bob.roles.join(', ')}`);
    assert.ok(!bob.roles.includes('member'));

    // The header may repeat the token's project, never name another one.
    const forbidden = await refusal(
      auth.authenticate({ token: bobToken, projectId: keystone.projects.service }),
      ForbiddenError,
    );
    assert.match(forbidden.message, new RegExp(keystone.projects.service));
  });

  it('a cached token is not validated again, until token_cache_time has passed', async () => {
    const { auth, clock, validations } = authenticator(60);
    const token = await keystone.issueToken('alice');
    const first = await auth.authenticate({ token, projectId: undefined });
    assert.equal(validations(), 1);
    clock.advance(59_000);
    const second = await auth.authenticate({ token, projectId: undefined });
    assert.deepEqual(second, first);
    assert.equal(validations(), 1, 'the second request was answered from the cache');
    clock.advance(2_000);
    await auth.authenticate({ token, projectId: undefined });
    assert.equal(validations(), 2, 'after token_cache_time keystone is asked again');
  });

  it('the cache is never used past the token expiry', async () => {
    // A cache time far longer than the token's life: the expiry must still bound it.
    const { auth, clock, validations } = authenticator(86_400);
    const token = await keystone.issueToken('bob');
    const identity = await auth.authenticate({ token, projectId: undefined });
    assert.equal(validations(), 1);
    const expiresAt = identity.expiresAt as number;
    clock.advance(expiresAt - clock.now() - 1000);
    await auth.authenticate({ token, projectId: undefined });
    assert.equal(validations(), 1, 'still cached one second before expiry');
    clock.advance(2000);
    const refused = await refusal(auth.authenticate({ token, projectId: undefined }), UnauthenticatedError);
    assert.equal(validations(), 2, 'past expiry the cache entry was not used');
    assert.equal(refused.challenge, `Keystone uri="${keystone.authUrl}"`);
  });

  it('a revoked token is refused once its cache entry has ended', async () => {
    const { auth, clock, validations } = authenticator(30);
    const token = await keystone.issueToken('alice');
    await auth.authenticate({ token, projectId: undefined });
    await keystone.openstack(['token', 'revoke', token]);
    // As keystonemiddleware: within token_cache_time a revoked token is still honoured.
    await auth.authenticate({ token, projectId: undefined });
    assert.equal(validations(), 1);
    clock.advance(31_000);
    const refused = await refusal(auth.authenticate({ token, projectId: undefined }), UnauthenticatedError);
    assert.equal(validations(), 2);
    assert.equal(refused.challenge, `Keystone uri="${keystone.authUrl}"`);
    // Refusals are not cached: each one is keystone's answer of the moment.
    await refusal(auth.authenticate({ token, projectId: undefined }), UnauthenticatedError);
    assert.equal(validations(), 3);
  });

  it('a malformed or missing token is a 401 with the Keystone challenge', async () => {
    const { auth, validations } = authenticator(300);
    for (const token of ['garbage', 'gAAAAABnot-a-fernet-token', `${await keystone.issueToken('bob')}x`]) {
      const refused = await refusal(auth.authenticate({ token, projectId: undefined }), UnauthenticatedError);
      assert.equal(refused.challenge, `Keystone uri="${keystone.authUrl}"`, token);
    }
    assert.equal(validations(), 3, 'each malformed token was put to keystone');
    for (const token of [undefined, '', '  ']) {
      const refused = await refusal(auth.authenticate({ token, projectId: undefined }), UnauthenticatedError);
      assert.equal(refused.challenge, `Keystone uri="${keystone.authUrl}"`);
    }
    assert.equal(validations(), 3, 'a missing token is refused without asking keystone');
  });

  it('the service token is renewed before it expires, and after keystone refuses it (401)', async () => {
    const { auth, clock, seen, logins, validations } = authenticator(0);
    await auth.authenticate({ token: await keystone.issueToken('alice'), projectId: undefined });
    await auth.authenticate({ token: await keystone.issueToken('bob'), projectId: undefined });
    assert.equal(logins(), 1, 'one service login serves many validations');
    assert.equal(validations(), 2);

    // Keystone's default token life is an hour; renewal comes at most two minutes before the end.
    clock.advance(3600_000 - 119_000);
    const alice = await auth.authenticate({ token: await keystone.issueToken('alice'), projectId: undefined });
    assert.equal(alice.user, keystone.users.alice);
    assert.equal(logins(), 2, 'a service token about to expire was replaced first');

    // Revoke the service token Posthorn holds: the next validation gets 401, logs in again, retries.
    const serviceToken = seen.filter((s) => s.method === 'POST').at(-1)?.subjectToken;
    assert.ok(serviceToken, 'the login answered with a token');
    await keystone.openstack(['token', 'revoke', serviceToken]);
    const before = validations();
    const bob = await auth.authenticate({ token: await keystone.issueToken('bob'), projectId: undefined });
    assert.equal(bob.user, keystone.users.bob);
    assert.equal(logins(), 3, 'a refused service token was replaced');
    assert.deepEqual(
      seen.slice(-3).map((s) => `${s.method} ${s.status}`),
      ['GET 401', 'POST 201', 'GET 200'],
    );
    assert.equal(validations(), before + 2);
  });

  it('wrong service credentials are a 503, never a 401 for the caller', async () => {
    const { auth, logins } = authenticator(300, { password: 'not-the-password' });
    const error = await refusal(
      auth.authenticate({ token: await keystone.issueToken('alice'), projectId: undefined }),
      IdentityUnavailableError,
    );
    assert.match(error.message, /service user "posthorn"/);
    assert.equal(logins(), 1);
  });

  it('keystone stopped: uncached tokens are a 503, not a 401', async () => {
    const { auth } = authenticator(300);
    const cachedToken = await keystone.issueToken('alice');
    const uncachedToken = await keystone.issueToken('bob');
    await auth.authenticate({ token: cachedToken, projectId: undefined });
    await keystone.stopServer();
    assert.equal(keystone.running, false);
    await refusal(auth.authenticate({ token: uncachedToken, projectId: undefined }), IdentityUnavailableError);
    await refusal(auth.authenticate({ token: 'garbage', projectId: undefined }), IdentityUnavailableError);
    // What keystone vouched for within token_cache_time still holds.
    const alice = await auth.authenticate({ token: cachedToken, projectId: undefined });
    assert.equal(alice.user, keystone.users.alice);
  });
});
