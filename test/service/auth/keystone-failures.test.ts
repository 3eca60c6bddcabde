import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  IdentityUnavailableError,
  InvalidArgumentError,
  silentLogger,
  UnauthenticatedError,
} from '../../../src/core/index.js';
import { KeystoneAuthenticator } from '../../../src/service/auth/keystone-authenticator.js';
import { keystoneSettingsFrom } from '../../../src/service/auth/keystone-settings.js';

/**
 * What keystone's failures become, against a stand-in HTTP server on 127.0.0.1 that answers the
 * service login and then misbehaves on validation (the real keystone's answers are tested in
 * keystone.test.ts): every failure to get an answer is a 503, never a 401.
 */

const SECTION = {
  auth_url: 'http://127.0.0.1:1/v3',
  username: 'posthorn',
  password: 'pw',
  project_name: 'service',
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A keystone stand-in: the service login works; `validate` answers GET /v3/auth/tokens. */
async function standIn(validate: Handler): Promise<{ url: string; validations: () => number }> {
  let validations = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (req.method === 'POST') {
      const now = Date.now();
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': 'service-token' });
      res.end(
        JSON.stringify({
          token: { issued_at: new Date(now).toISOString(), expires_at: new Date(now + 3600_000).toISOString() },
        }),
      );
      return;
    }
    validations++;
    validate(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3`, validations: () => validations };
}

function authenticatorFor(url: string, timeoutSeconds = 5): KeystoneAuthenticator {
  return new KeystoneAuthenticator(
    { ...keystoneSettingsFrom({ ...SECTION, auth_url: url }), timeoutSeconds },
    { logger: silentLogger },
  );
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

describe('service/auth: keystone failures are 503, bad tokens 401', () => {
  it('keystone answering 5xx, garbage or a body without a token is a 503', async () => {
    const answers: Handler[] = [
      (_req, res) => res.writeHead(500).end('boom'),
      (_req, res) => res.writeHead(503).end(),
      (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{not json'),
      (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token": {}}'),
      (_req, res) => res.writeHead(403).end('{"error": {"code": 403}}'),
    ];
    for (const answer of answers) {
      const keystone = await standIn(answer);
      const auth = authenticatorFor(keystone.url);
      await refusal(auth.authenticate({ token: 'user-token', projectId: undefined }), IdentityUnavailableError);
      assert.equal(keystone.validations(), 1);
      await auth.close();
    }
  });

  it('a 401 that persists after a fresh service login is a 503 (our credentials), tried twice', async () => {
    const keystone = await standIn((_req, res) => res.writeHead(401).end());
    const auth = authenticatorFor(keystone.url);
    await refusal(auth.authenticate({ token: 'user-token', projectId: undefined }), IdentityUnavailableError);
    assert.equal(keystone.validations(), 2, 'one retry after logging in again');
    await auth.close();
  });

  it('a keystone that never answers is a 503 after the timeout', async () => {
    const keystone = await standIn(() => {
      // holds the request open, never answers
    });
    const auth = authenticatorFor(keystone.url, 1);
    const error = await refusal(
      auth.authenticate({ token: 'user-token', projectId: undefined }),
      IdentityUnavailableError,
    );
    assert.match(error.message, /did not answer/);
    await auth.close();
  });

  it('nothing listening is a 503', async () => {
    const keystone = await standIn((_req, res) => res.writeHead(500).end());
    const url = keystone.url;
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    const auth = authenticatorFor(url);
    await refusal(auth.authenticate({ token: 'user-token', projectId: undefined }), IdentityUnavailableError);
    await auth.close();
  });

  it('a 404 is a 401 with the challenge; a token without a project is a 401 too', async () => {
    const notFound = await standIn((_req, res) => res.writeHead(404).end());
    const auth = authenticatorFor(notFound.url);
    const refused = await refusal(
      auth.authenticate({ token: 'user-token', projectId: undefined }),
      UnauthenticatedError,
    );
    assert.equal(refused.challenge, `Keystone uri="${notFound.url}"`);
    await auth.close();

    const unscoped = await standIn((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          token: { user: { id: 'u1' }, roles: [], expires_at: new Date(Date.now() + 60_000).toISOString() },
        }),
      ),
    );
    const auth2 = authenticatorFor(unscoped.url);
    const noProject = await refusal(auth2.authenticate({ token: 't', projectId: undefined }), UnauthenticatedError);
    assert.match(noProject.message, /not scoped to a project/);
    await auth2.close();
  });
});

describe('service/auth: keystone validations are shared', () => {
  it('concurrent requests with one uncached token cost one validation', async () => {
    const keystone = await standIn((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          token: {
            user: { id: 'u1' },
            project: { id: 'p1' },
            roles: [{ name: 'member' }],
            expires_at: new Date(Date.now() + 600_000).toISOString(),
          },
        }),
      ),
    );
    const auth = authenticatorFor(keystone.url);
    const identities = await Promise.all(
      Array.from({ length: 5 }, () => auth.authenticate({ token: 'user-token', projectId: 'p1' })),
    );
    assert.equal(keystone.validations(), 1);
    for (const identity of identities) assert.deepEqual(identity.roles, ['member']);
    await auth.close();
  });
});

describe('service/auth: keystoneSettingsFrom reads [keystone_authtoken]', () => {
  it('takes the settings Zaqar operators write, with keystonemiddleware defaults', () => {
    const settings = keystoneSettingsFrom({ ...SECTION, token_cache_time: '120' });
    assert.deepEqual(settings, {
      authUrl: SECTION.auth_url,
      username: 'posthorn',
      password: 'pw',
      projectName: 'service',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      tokenCacheSeconds: 120,
      wwwAuthenticateUri: SECTION.auth_url,
      timeoutSeconds: 5,
    });
    assert.equal(keystoneSettingsFrom(SECTION).tokenCacheSeconds, 300);
    assert.equal(keystoneSettingsFrom({ ...SECTION, token_cache_time: -1 }).tokenCacheSeconds, 0);
  });

  it('names the bad key', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...SECTION, auth_url: undefined }, 'keystone_authtoken.auth_url'],
      [{ ...SECTION, auth_url: 'ftp://x' }, 'keystone_authtoken.auth_url'],
      [{ ...SECTION, password: 7 }, 'keystone_authtoken.password'],
      [{ ...SECTION, username: '' }, 'keystone_authtoken.username'],
      [{ ...SECTION, token_cache_time: 'soon' }, 'keystone_authtoken.token_cache_time'],
      [{ ...SECTION, token_cache_time: 1.5 }, 'keystone_authtoken.token_cache_time'],
      [{ ...SECTION, auth_type: 'v3token' }, 'keystone_authtoken.auth_type'],
      [{ ...SECTION, http_connect_timeout: 0 }, 'keystone_authtoken.http_connect_timeout'],
      [{ ...SECTION, admin_password: 'x' }, 'keystone_authtoken.admin_password'],
    ];
    for (const [section, field] of cases) {
      assert.throws(
        () => keystoneSettingsFrom(section),
        (error: unknown) => error instanceof InvalidArgumentError && error.field === field,
        field,
      );
    }
  });
});
