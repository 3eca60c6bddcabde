import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import WebSocket from 'ws';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig, startQueueServer } from '../../src/server/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const HEADERS = { 'client-id': CLIENT, 'x-project-id': 'dest', 'content-type': 'application/json' };

describe('server: [notification] webhook destinations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-destinations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads the lists from the file and the environment, and refuses entries that are not networks or names', () => {
    const defaults = loadServerConfig({ env: {}, cwd: dir });
    assert.deepEqual(defaults.notification.destinations, { allow: [], deny: [], denyPrivate: false });
    const file = write(
      'lists.toml',
      '[notification]\ndeny_private_destinations = true\nallow_destinations = ["10.1.0.0/16", "hooks.internal"]\n',
    );
    const config = loadServerConfig({
      env: { POSTHORN_DENY_DESTINATIONS: '192.0.2.0/24, .example.net' },
      cwd: dir,
      flags: { config: file },
    });
    assert.deepEqual(config.notification.destinations, {
      allow: ['10.1.0.0/16', 'hooks.internal'],
      deny: ['192.0.2.0/24', '.example.net'],
      denyPrivate: true,
    });
    const refuse = (text: string, pattern: RegExp) =>
      assert.throws(
        () => loadServerConfig({ env: {}, cwd: dir, flags: { config: write('bad.toml', text) } }),
        (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
      );
    refuse('[notification]\nallow_destinations = ["10.0.0.0/40"]', /allow_destinations.*not a network/);
    refuse('[notification]\ndeny_destinations = "10.0.0.0/8"', /deny_destinations/);
    refuse('[notification]\ndeny_destinations = ["a b"]', /deny_destinations/);
    refuse('[notification]\ndeny_private_destinations = "yes"', /deny_private_destinations/);
  });

  it('denies private destinations by default once an auth strategy other than noauth is on, and lets the operator say otherwise', () => {
    const secret = {
      POSTHORN_AUTH_STRATEGY: 'token',
      POSTHORN_TOKEN_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!',
    };
    assert.equal(loadServerConfig({ env: {}, cwd: dir }).notification.destinations.denyPrivate, false, 'noauth');
    assert.equal(loadServerConfig({ env: secret, cwd: dir }).notification.destinations.denyPrivate, true, 'token');
    const trusted = loadServerConfig({ env: { ...secret, POSTHORN_DENY_PRIVATE_DESTINATIONS: 'false' }, cwd: dir });
    assert.equal(trusted.notification.destinations.denyPrivate, false, 'an explicit false wins');
  });

  it('answers 400 with a Zaqar body to a denied subscriber and creates nothing; sockets still get their pushes', async () => {
    const data = mkdtempSync(join(dir, 'serve-'));
    const config = loadServerConfig({
      env: { POSTHORN_STORE: 'memory', POSTHORN_LOG_LEVEL: 'silent', POSTHORN_DENY_PRIVATE_DESTINATIONS: 'true' },
      cwd: data,
      flags: { port: 0, wsPort: 0, data },
    });
    const server = await startQueueServer(config);
    try {
      for (const subscriber of [
        'http://127.0.0.1:9/x',
        'http://[::1]/',
        'http://169.254.169.254/',
        'http://localhost/',
      ]) {
        const answer = await request(`${server.url}/v2/queues/guarded/subscriptions`, {
          method: 'POST',
          headers: HEADERS,
          body: JSON.stringify({ subscriber, ttl: 600 }),
        });
        const body = (await answer.body.json()) as Record<string, unknown>;
        assert.equal(answer.statusCode, 400, subscriber);
        assert.deepEqual(Object.keys(body).sort(), ['description', 'title'], subscriber);
        assert.match(String(body.description), /may not reach|allow_destinations/, subscriber);
      }
      const queues = await request(`${server.url}/v2/queues`, { headers: HEADERS });
      assert.deepEqual(((await queues.body.json()) as { queues: unknown[] }).queues, [], 'no queue was made');

      // A socket that subscribes itself is notified through this server's own loopback endpoint.
      const ws = new WebSocket(server.wsUrl);
      const pushed: unknown[] = [];
      const answers: { headers: { status: number } }[] = [];
      ws.on('message', (data) => {
        const doc = JSON.parse(data.toString()) as Record<string, unknown>;
        if ('request' in doc) answers.push(doc as never);
        else pushed.push(doc);
      });
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      ws.send(
        JSON.stringify({
          action: 'subscription_create',
          headers: { 'Client-ID': CLIENT, 'X-Project-ID': 'dest' },
          body: { queue_name: 'pushed', ttl: 600 },
        }),
      );
      const deadline = Date.now() + 30_000;
      const until = async (ready: () => boolean, what: string) => {
        while (!ready()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await until(() => answers.length > 0, 'the subscription');
      assert.equal(answers[0]?.headers.status, 201);
      const posted = await request(`${server.url}/v2/queues/pushed/messages`, {
        method: 'POST',
        headers: HEADERS,
        body: JSON.stringify({ messages: [{ body: 'to the socket', ttl: 300 }] }),
      });
      await posted.body.dump();
      assert.equal(posted.statusCode, 201);
      await until(() => pushed.length > 0, 'the push');
      assert.equal((pushed[0] as { body: unknown }).body, 'to the socket');
      ws.close();
    } finally {
      await server.close();
    }
  });
});
