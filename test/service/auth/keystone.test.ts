import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request, fetch as undiciFetch } from 'undici';
import {
  FakeClock,
  ForbiddenError,
  IdentityUnavailableError,
  makeLimits,
  silentLogger,
  UnauthenticatedError,
} from '../../../src/core/index.js';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../../src/server/index.js';
import { KeystoneAuthenticator, type KeystoneFetch } from '../../../src/service/auth/keystone-authenticator.js';
import { keystoneSettingsFrom } from '../../../src/service/auth/keystone-settings.js';
import { AccessControl, AccessPolicy, AdminToken, checkProjectId } from '../../../src/service/index.js';
import { type Keystone, keystoneMissing, startKeystone } from '../../fixtures/keystone.js';
import { tamperHex } from '../../fixtures/tamper.js';
import { messaging, runProgram, ZaqarSocket } from './openstack-cli.js';

/**
 * The keystone strategy against a real keystone (Debian's python3-keystone on MariaDB, started
 * once for this whole file, ~100 s on a busy machine — CI pays for it once, so every test that
 * needs keystone lives here): identities as keystone gives them, the token cache and its limits,
 * revocation, malformed tokens, the service token's renewal; then a real Posthorn (in-process,
 * auth_strategy keystone, token_cache_time 0) in keystone's catalog, driven by the
 * `openstack messaging` CLI and python-zaqarclient logged in with passwords, by plain HTTP and by
 * the WebSocket; and last keystone going away (503, never 401, nothing written).
 */

const PYTHON = '/usr/bin/python3';
const ZAQARCLIENT_SCRIPT = fileURLToPath(new URL('../../interop/zaqar_keystone_check.py', import.meta.url));
const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const SIGNING_KEY = 'keystone-test-signed-url-key';

function whyNot(): string | null {
  const keystone = keystoneMissing();
  if (keystone !== null) return keystone;
  if (spawnSync(PYTHON, ['-c', 'import zaqarclient']).status !== 0) {
    return 'python3-zaqarclient is missing (apt-get install -y python3-zaqarclient)';
  }
  return null;
}

const missing = whyNot();
// Under CI a missing keystone is a failure, never a skip: .ci/run installs it.
const skip = missing !== null && process.env.CI !== 'true' ? missing : false;
const checkProject = (value: string | undefined) => checkProjectId(value, makeLimits());

interface Stats {
  claimed: number;
  free: number;
  total: number;
}

/** The counts of a stats answer, without the oldest/newest details. */
function pick(stats: Stats): Stats {
  return { claimed: stats.claimed, free: stats.free, total: stats.total };
}

/** The HTTP headers a pre-signed URL is presented with, from `openstack messaging queue signed url`. */
function signatureHeaders(signed: Record<string, string>): Record<string, string | undefined> {
  return {
    'x-project-id': signed['Project ID'],
    'url-signature': signed.Signature,
    'url-expires': signed.Expires,
    'url-methods': signed.Methods,
    'url-paths': signed.Paths,
  };
}

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

describe('service/auth: keystone, against a real keystone', { skip, timeout: 900_000 }, () => {
  let keystone: Keystone;
  let server: RunningServer;
  let dir: string;
  const sockets: ZaqarSocket[] = [];
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
  /** The OS_* variables of a user, and the Client-ID the messaging CLI wants for messages. */
  const as = (user: 'alice' | 'bob' | 'admin') => ({ ...keystone.userEnv(user), OS_MESSAGE_CLIENT_ID: CLIENT });
  const demoQueues = async () =>
    (await server.service.queues.list(keystone.projects.demo, {})).queues.map((q) => q.name);
  const http = async (
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    headers: Record<string, string | undefined>,
    body?: unknown,
  ) => {
    const answer = await request(`${server.url}${path}`, {
      method,
      headers: {
        'client-id': CLIENT,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await answer.body.text();
    return { status: answer.statusCode, headers: answer.headers, json: text === '' ? null : JSON.parse(text) };
  };

  before(async () => {
    if (missing !== null) assert.fail(missing);
    // Posthorn's port is known only once it listens: the catalog entry is pointed at it after.
    keystone = await startKeystone('http://127.0.0.1:1');
    dir = mkdtempSync(join(tmpdir(), 'posthorn-keystone-serve-'));
    const file = join(dir, 'posthorn.json');
    writeFileSync(
      file,
      JSON.stringify({
        store: 'memory',
        log_level: 'silent',
        data: join(dir, 'data'),
        auth_strategy: 'keystone',
        // 0: every request is put to keystone, so a revocation or an outage shows at once.
        keystone_authtoken: { ...keystone.authtoken, token_cache_time: 0 },
        signed_url: { secret_key: SIGNING_KEY },
      }),
    );
    server = await startQueueServer(
      loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
    );
    await keystone.setMessagingUrl(server.url);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    for (const auth of made) await auth.close();
    await server?.close();
    await keystone?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  describe('KeystoneAuthenticator', () => {
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

      // The authenticator reports the token's project whatever X-Project-ID says: whether the
      // header may name another project is AccessControl's decision, the same for every strategy.
      const named = await auth.authenticate({ token: bobToken, projectId: keystone.projects.service });
      assert.equal(named.project, keystone.projects.demo);
    });

    it("X-Project-ID may name another project only for a token with keystone's admin role", async () => {
      const { auth } = authenticator(300);
      const access = new AccessControl(auth, new AccessPolicy(), new AdminToken(null), checkProject);
      const request = (token: string, projectId: string | undefined) => ({
        action: 'queues:get_all' as const,
        credentials: { token, projectId },
        adminToken: undefined,
        signed: false,
      });
      const bobToken = await keystone.issueToken('bob');
      const own = await access.authorize(request(bobToken, keystone.projects.demo));
      assert.equal(own.identity.project, keystone.projects.demo);
      assert.equal(own.admin, false);
      const forbidden = await refusal(access.authorize(request(bobToken, keystone.projects.service)), ForbiddenError);
      assert.match(forbidden.message, new RegExp(keystone.projects.demo));

      const adminToken = await keystone.issueToken('admin');
      const other = await access.authorize(request(adminToken, keystone.projects.demo));
      assert.equal(other.identity.project, keystone.projects.demo, 'an admin runs in the project it names');
      assert.equal(other.identity.user, keystone.users.admin);
      assert.equal(other.admin, true);
      const home = await access.authorize(request(adminToken, undefined));
      assert.equal(home.identity.project, keystone.projects.admin, "without the header, the token's project");
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
  });

  describe('posthorn serve under auth_strategy keystone, end to end', () => {
    it('the openstack messaging CLI, logged in with a password, runs a whole queue flow', async () => {
      const alice = as('alice');
      const queue = 'cli-flow';
      const cli = (args: string[]) => messaging(alice, args, { json: true });
      const run = (args: string[]) => messaging(alice, args);

      assert.deepEqual(await cli(['queue', 'create', queue]), { Name: queue });
      assert.deepEqual(await cli(['queue', 'list']), [{ Name: queue }]);
      assert.deepEqual(await demoQueues(), [queue], "the queue is in alice's project, as keystone names it");

      await run(['queue', 'set', 'metadata', queue, '{"color": "red", "_default_message_ttl": 600}']);
      const { Metadata: metadata } = (await cli(['queue', 'get', 'metadata', queue])) as {
        Metadata: Record<string, unknown>;
      };
      assert.equal(metadata.color, 'red');
      assert.equal(metadata._default_message_ttl, 600);

      await run(['message', 'post', queue, '[{"body": {"n": 1}, "ttl": 300}, {"body": {"n": 2}, "ttl": 300}]']);
      const listed = (await cli(['message', 'list', queue, '--echo'])) as { ID: string; Body: unknown; TTL: number }[];
      assert.deepEqual(
        listed.map((m) => [m.Body, m.TTL]),
        [
          [{ n: 1 }, 300],
          [{ n: 2 }, 300],
        ],
      );
      const stats = async () =>
        ((await cli(['queue', 'stats', queue])) as { Stats: { messages: Stats } }).Stats.messages;
      assert.deepEqual(pick(await stats()), { claimed: 0, free: 2, total: 2 });

      const claimed = (await cli(['claim', 'create', queue, '--ttl', '300', '--grace', '60', '--limit', '1'])) as {
        Claim_ID: string;
        Message_ID: string;
        Messages: unknown;
      }[];
      assert.equal(claimed.length, 1);
      const claim = claimed[0] as (typeof claimed)[number];
      assert.equal(claim.Message_ID, listed[0]?.ID, 'the oldest message is claimed first');
      assert.deepEqual(claim.Messages, { n: 1 });
      assert.deepEqual(pick(await stats()), { claimed: 1, free: 1, total: 2 });

      type Held = { Message_ID: string; TTL: number }[];
      const held = (await cli(['claim', 'query', queue, claim.Claim_ID])) as Held;
      assert.deepEqual(
        held.map((m) => [m.Message_ID, m.TTL]),
        [[claim.Message_ID, 360]],
        'a claimed message lives at least the claim ttl + grace',
      );
      await cli(['claim', 'renew', queue, claim.Claim_ID, '--ttl', '600', '--grace', '60']);
      const renewed = (await cli(['claim', 'query', queue, claim.Claim_ID])) as Held;
      assert.deepEqual(
        renewed.map((m) => m.TTL),
        [660],
        'the renewal extended the message to the new ttl + grace',
      );
      await run(['claim', 'release', queue, claim.Claim_ID]);
      assert.deepEqual(pick(await stats()), { claimed: 0, free: 2, total: 2 });

      const subscription = (await cli(['subscription', 'create', queue, 'mailto:ops@example.com', '3600'])) as {
        ID: string;
        Subscriber: string;
        TTL: number;
      };
      assert.equal(subscription.Subscriber, 'mailto:ops@example.com');
      assert.equal(subscription.TTL, 3600);
      const subscriptions = (await cli(['subscription', 'list', queue])) as { ID: string }[];
      assert.deepEqual(
        subscriptions.map((s) => s.ID),
        [subscription.ID],
      );
      const shown = (await cli(['subscription', 'show', queue, subscription.ID])) as Record<string, unknown>;
      assert.equal(shown.ID, subscription.ID);
      assert.equal(shown.Subscriber, 'mailto:ops@example.com');
      await run(['subscription', 'delete', queue, subscription.ID]);
      assert.deepEqual(await cli(['subscription', 'list', queue]), []);

      const signed = (await cli([
        'queue',
        'signed',
        'url',
        queue,
        '--paths',
        'messages',
        '--methods',
        'GET',
      ])) as Record<string, string>;
      assert.equal(signed.Paths, `/v2/queues/${queue}/messages`);
      assert.equal(signed.Methods, 'GET');
      assert.equal(signed['Project ID'], keystone.projects.demo);
      const bySignature = await http('GET', `/v2/queues/${queue}/messages?echo=true`, signatureHeaders(signed));
      assert.equal(bySignature.status, 200, 'the signed URL reads without a token');
      assert.equal(bySignature.json.messages.length, 2);

      await run(['queue', 'purge', queue, '--resource_types', 'messages']);
      assert.deepEqual(pick(await stats()), { claimed: 0, free: 0, total: 0 });
      await run(['queue', 'delete', queue]);
      assert.deepEqual(await cli(['queue', 'list']), []);
      assert.deepEqual(await demoQueues(), []);
    });

    it('the CLI as a reader reads but may not post: 403, nothing written', async () => {
      await messaging(as('alice'), ['queue', 'create', 'reader-q']);
      await messaging(as('alice'), ['message', 'post', 'reader-q', '[{"body": "hello", "ttl": 300}]']);
      const read = (await messaging(as('bob'), ['message', 'list', 'reader-q', '--echo'], { json: true })) as {
        Body: unknown;
      }[];
      assert.deepEqual(
        read.map((m) => m.Body),
        ['hello'],
      );
      await assert.rejects(
        messaging(as('bob'), ['message', 'post', 'reader-q', '[{"body": "no", "ttl": 300}]']),
        /Code: 403[\s\S]*needs the member role/,
      );
      assert.equal((await server.service.queues.stats(keystone.projects.demo, 'reader-q')).total, 1);
      await assert.rejects(messaging(as('bob'), ['queue', 'delete', 'reader-q']), /Code: 403/);
      assert.ok((await demoQueues()).includes('reader-q'));
      await messaging(as('alice'), ['queue', 'delete', 'reader-q']);
    });

    it('python-zaqarclient with its keystone backend finds Posthorn in the catalog and uses it', async () => {
      const run = await runProgram(PYTHON, [ZAQARCLIENT_SCRIPT], {
        ...keystone.userEnv('alice'),
        READER_USERNAME: 'bob',
        READER_PASSWORD: 'pw',
      });
      assert.equal(run.status, 0, `the client saw wrong behaviour:\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /all 6 steps passed/);
      assert.deepEqual(await demoQueues(), [], 'the script removed its queue');
    });

    it('no token, or a malformed, unknown or tampered one: 401 with the Keystone challenge, nothing written', async () => {
      const good = await keystone.issueToken('alice');
      const cases: [string | undefined, RegExp][] = [
        [undefined, /needs a keystone token/],
        ['garbage', /not valid/],
        ['gAAAAABnot-a-fernet-token', /not valid/],
        [`${good}x`, /not valid/],
      ];
      for (const [token, description] of cases) {
        const answer = await http('PUT', '/v2/queues/refused', { 'x-auth-token': token });
        assert.equal(answer.status, 401, String(token));
        assert.equal(answer.headers['www-authenticate'], `Keystone uri="${keystone.authUrl}"`);
        assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
        assert.equal(answer.json.title, 'Unauthorized');
        assert.match(answer.json.description, description);
      }
      assert.deepEqual(await demoQueues(), []);
    });

    it('a member naming another project in X-Project-ID: 403, nothing written anywhere', async () => {
      const token = await keystone.issueToken('alice');
      const answer = await http('PUT', '/v2/queues/elsewhere', {
        'x-auth-token': token,
        'x-project-id': keystone.projects.service,
      });
      assert.equal(answer.status, 403);
      assert.equal(answer.json.title, 'Forbidden');
      assert.match(answer.json.description, /X-Project-ID may not name another project/);
      assert.deepEqual(await demoQueues(), []);
      assert.deepEqual((await server.service.queues.list(keystone.projects.service, {})).queues, []);
      // Naming its own project is fine.
      const own = await http('GET', '/v2/queues', { 'x-auth-token': token, 'x-project-id': keystone.projects.demo });
      assert.equal(own.status, 200);
    });

    it("an admin token may use any project; admin routes refuse a member's token", async () => {
      const admin = await keystone.issueToken('admin');
      const alice = await keystone.issueToken('alice');
      const made = await http('PUT', '/v2/queues/made-by-admin', {
        'x-auth-token': admin,
        'x-project-id': keystone.projects.demo,
      });
      assert.equal(made.status, 201);
      assert.deepEqual(await demoQueues(), ['made-by-admin'], 'the queue is in the project the admin named');
      assert.deepEqual((await server.service.queues.list(keystone.projects.admin, {})).queues, []);
      const seen = await http('GET', '/v2/queues', { 'x-auth-token': alice });
      assert.deepEqual(
        seen.json.queues.map((q: { name: string }) => q.name),
        ['made-by-admin'],
      );

      const refused = await http('GET', '/v2/health', { 'x-auth-token': alice });
      assert.equal(refused.status, 403);
      assert.match(refused.json.description, /needs the admin role/);
      const health = await http('GET', '/v2/health', { 'x-auth-token': admin });
      assert.equal(health.status, 200);
      assert.equal(health.json.storage_reachable, true);
      assert.equal((await http('DELETE', '/v2/queues/made-by-admin', { 'x-auth-token': alice })).status, 204);
    });

    it('a revoked token is refused (token_cache_time = 0) and writes nothing', async () => {
      const token = await keystone.issueToken('alice');
      assert.equal((await http('GET', '/v2/queues', { 'x-auth-token': token })).status, 200);
      await keystone.openstack(['token', 'revoke', token]);
      const answer = await http('PUT', '/v2/queues/after-revoke', { 'x-auth-token': token });
      assert.equal(answer.status, 401);
      assert.equal(answer.headers['www-authenticate'], `Keystone uri="${keystone.authUrl}"`);
      assert.deepEqual(await demoQueues(), []);
    });

    it('over the WebSocket: authenticate with a keystone token, then run as its project and roles', async () => {
      const socket = await ZaqarSocket.open(server.wsUrl, CLIENT);
      sockets.push(socket);
      const demo = { 'X-Project-ID': keystone.projects.demo };
      const failed = await socket.send('authenticate', { ...demo, 'X-Auth-Token': 'garbage' });
      assert.equal(failed.headers.status, 401);
      assert.equal((await socket.send('queue_create', demo, { queue_name: 'ws-q' })).headers.status, 403);
      const auth = await socket.send('authenticate', { ...demo, 'X-Auth-Token': await keystone.issueToken('alice') });
      assert.equal(auth.headers.status, 200);
      assert.equal((await socket.send('queue_create', demo, { queue_name: 'ws-q' })).headers.status, 201);
      const other = await socket.send('queue_list', { 'X-Project-ID': keystone.projects.service });
      assert.equal(other.headers.status, 403);
      assert.deepEqual(await demoQueues(), ['ws-q']);
      assert.equal((await socket.send('queue_delete', demo, { queue_name: 'ws-q' })).headers.status, 204);
    });

    it('a URL signed with `openstack messaging queue signed url` stands in for a token, over HTTP and WebSocket', async () => {
      const alice = as('alice');
      await messaging(alice, ['queue', 'create', 'shared']);
      const signed = (await messaging(
        alice,
        ['queue', 'signed', 'url', 'shared', '--paths', 'messages', '--methods', 'GET,POST'],
        { json: true },
      )) as Record<string, string>;
      const headers = signatureHeaders(signed);
      const posted = await http('POST', '/v2/queues/shared/messages', headers, {
        messages: [{ body: 'over http', ttl: 300 }],
      });
      assert.equal(posted.status, 201);
      // What it does not sign is refused (404, Zaqar's answer to a signature that does not fit).
      assert.equal((await http('DELETE', '/v2/queues/shared', headers)).status, 404);
      assert.equal((await http('GET', '/v2/queues/other/messages', headers)).status, 404);
      const tampered = { ...headers, 'url-signature': tamperHex(signed.Signature ?? '') };
      assert.equal((await http('GET', '/v2/queues/shared/messages', tampered)).status, 404);

      const socket = await ZaqarSocket.open(server.wsUrl, CLIENT);
      sockets.push(socket);
      const wsHeaders = {
        'X-Project-ID': signed['Project ID'],
        'URL-Signature': signed.Signature,
        'URL-Expires': signed.Expires,
        'URL-Methods': signed.Methods,
        'URL-Paths': signed.Paths,
      };
      const wsPost = await socket.send('message_post', wsHeaders, {
        queue_name: 'shared',
        messages: [{ body: 'over websocket', ttl: 300 }],
      });
      assert.equal(wsPost.headers.status, 201, JSON.stringify(wsPost.body));
      const wsList = await socket.send('message_list', wsHeaders, { queue_name: 'shared', echo: true });
      assert.equal(wsList.headers.status, 200);
      assert.deepEqual(
        (wsList.body.messages as { body: unknown }[]).map((m) => m.body),
        ['over http', 'over websocket'],
      );
      for (const [action, body] of [
        ['queue_delete', { queue_name: 'shared' }],
        ['message_list', { queue_name: 'other' }],
      ] as const) {
        const refused = await socket.send(action, wsHeaders, body);
        assert.equal(refused.headers.status, 403, action);
        assert.equal(refused.body.error, 'Not authentified.');
      }
      assert.equal((await server.service.queues.stats(keystone.projects.demo, 'shared')).total, 2);
      await messaging(alice, ['queue', 'delete', 'shared']);
    });
  });

  describe('keystone stopped', () => {
    let aliceToken: string;
    before(async () => {
      // Issued while keystone runs; Posthorn has not seen it (and caches nothing).
      aliceToken = await keystone.issueToken('alice');
      assert.equal((await http('PUT', '/v2/queues/kept', { 'x-auth-token': aliceToken })).status, 201);
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

    it('Posthorn answers 503, not 401, over HTTP and the WebSocket, and writes nothing', async () => {
      assert.equal(keystone.running, false);
      const refusals = [
        await http('PUT', '/v2/queues/while-down', { 'x-auth-token': aliceToken }),
        await http('POST', '/v2/queues/kept/messages', { 'x-auth-token': aliceToken }, { messages: [{ body: 1 }] }),
      ];
      for (const answer of refusals) {
        assert.equal(answer.status, 503);
        assert.equal(answer.headers['www-authenticate'], undefined, 'no challenge: the token may be good');
        assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
        assert.equal(answer.json.title, 'Service temporarily unavailable');
        // The route's own 503 text, as for any other dependency that is down.
        assert.match(answer.json.description, /could not be \w+\. Please try again/);
      }
      const socket = await ZaqarSocket.open(server.wsUrl, CLIENT);
      sockets.push(socket);
      const auth = await socket.send('authenticate', {
        'X-Project-ID': keystone.projects.demo,
        'X-Auth-Token': aliceToken,
      });
      assert.equal(auth.headers.status, 503);
      assert.deepEqual(await demoQueues(), ['kept']);
      assert.equal((await server.service.queues.stats(keystone.projects.demo, 'kept')).total, 0);
    });
  });
});
