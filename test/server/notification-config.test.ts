import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig, startQueueServer } from '../../src/server/index.js';

describe('server: [notification] and [websocket] settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-notify-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('defaults: the spool in <data>/notifications, no confirmation, 10 s timeouts, 100 subscriptions a queue', () => {
    const config = loadServerConfig({ env: {}, cwd: dir });
    assert.equal(config.notification.dir, join(dir, 'data', 'notifications'));
    assert.equal(config.notification.requireConfirmation, false);
    assert.equal(config.notification.webhookTimeoutMs, 10_000);
    assert.equal(config.notification.maxSubscriptionsPerQueue, 100);
    assert.deepEqual(config.notification.smtp, {
      host: '127.0.0.1',
      port: 25,
      secure: false,
      user: null,
      password: null,
      from: 'posthorn@localhost',
    });
    assert.deepEqual(config.websocket, {
      portChosen: false,
      maxFrameBytes: 1_048_576,
      httpPath: true,
      notificationUrl: null,
    });
  });

  it('reads the tables from the file, and environment variables over them', () => {
    const file = write(
      'full.toml',
      [
        'ws_port = 9100',
        '[signed_url]',
        'secret_key = "s3cret"',
        '[notification]',
        'spool_dir = "/var/spool/posthorn-notify"',
        'require_confirmation = true',
        'webhook_timeout = 3',
        'max_subscriptions_per_queue = 0',
        'public_url = "https://queues.example.org"',
        'smtp_host = "mail.example.org"',
        'smtp_port = 587',
        'smtp_user = "ada"',
        'smtp_password = "pw"',
        'smtp_from = "queues@example.org"',
        '[websocket]',
        'max_frame_size = 4096',
        'http_path = false',
        'notification_url = "http://10.0.0.5:9100/"',
      ].join('\n'),
    );
    const config = loadServerConfig({ env: { POSTHORN_SMTP_PORT: '2525' }, cwd: dir, flags: { config: file } });
    assert.equal(config.notification.dir, '/var/spool/posthorn-notify');
    assert.equal(config.notification.requireConfirmation, true);
    assert.equal(config.notification.webhookTimeoutMs, 3000);
    assert.equal(config.notification.maxSubscriptionsPerQueue, 0);
    assert.equal(config.notification.publicUrl, 'https://queues.example.org/');
    assert.equal(config.notification.smtp.host, 'mail.example.org');
    assert.equal(config.notification.smtp.port, 2525, 'the environment wins over the file');
    assert.equal(config.notification.smtp.user, 'ada');
    assert.deepEqual(config.websocket, {
      portChosen: true,
      maxFrameBytes: 4096,
      httpPath: false,
      notificationUrl: 'http://10.0.0.5:9100/',
    });
  });

  it('refuses confirmation without a signing secret, unknown keys and bad values', () => {
    const refuse = (text: string, pattern: RegExp) =>
      assert.throws(
        () => loadServerConfig({ env: {}, cwd: dir, flags: { config: write('bad.toml', text) } }),
        (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
      );
    refuse('[notification]\nrequire_confirmation = true', /secret_key/);
    refuse('[notification]\nretry = 3', /notification\.retry/);
    refuse('[notification]\nwebhook_timeout = 0', /webhook_timeout/);
    refuse('[notification]\npublic_url = "ftp://x"', /public_url/);
    refuse('[websocket]\nmax_frame_size = 10', /max_frame_size/);
    refuse('[websocket]\nnotification_url = "not a url"', /notification_url/);
  });

  it('serves WebSocket on a free port when the default port is taken, but not when the port was chosen', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as { port: number }).port;
    const data = mkdtempSync(join(dir, 'serve-'));
    try {
      const defaulted = loadServerConfig({
        env: { POSTHORN_STORE: 'memory', POSTHORN_LOG_LEVEL: 'silent' },
        cwd: data,
        flags: { port: 0, data },
      });
      // As if the default port were the taken one.
      const server = await startQueueServer({ ...defaulted, wsPort: taken });
      try {
        assert.notEqual(new URL(server.wsUrl).port, String(taken));
      } finally {
        await server.close();
      }
      const chosen = loadServerConfig({
        env: { POSTHORN_STORE: 'memory', POSTHORN_LOG_LEVEL: 'silent' },
        cwd: data,
        flags: { port: 0, data, wsPort: taken },
      });
      await assert.rejects(startQueueServer(chosen), /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});
