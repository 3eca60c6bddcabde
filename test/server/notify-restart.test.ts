import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startWebhookReceiver } from '../fixtures/webhook-receiver.js';
import { ROOT, type ServeProcess, startServeProcess } from '../interop/serve-process.js';
import { jsonCaller, zaqarHeaders } from './serve-client.js';

const call = jsonCaller(zaqarHeaders('notify-restart'));

/** After a first failure: a retry 2 s later, then 2 s and 7 s (no immediate retries). */
const POLICY = {
  retries_with_no_delay: 0,
  minimum_delay_retries: 1,
  minimum_delay: 2,
  maximum_delay: 12,
  maximum_delay_retries: 0,
};

describe('server: notifications survive a restart of posthorn serve', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const servers: ServeProcess[] = [];
  after(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const serve = async (data: string) => {
    const s = await startServeProcess(['--data', data, '--ws-port', '0']);
    servers.push(s);
    return s;
  };

  it('delivers a notification whose retry was pending when the server was SIGKILLed, then SIGTERMed', async () => {
    const data = mkdtempSync(join(tmpdir(), 'posthorn-notify-serve-'));
    dirs.push(data);
    const receiver = await startWebhookReceiver();
    try {
      let server = await serve(data);
      assert.equal((await call(server.url, 'PUT', '/v2/queues/orders', { _retry_policy: POLICY })).status, 201);
      const made = await call(server.url, 'POST', '/v2/queues/orders/subscriptions', {
        subscriber: receiver.url('/orders'),
        ttl: 3600,
      });
      assert.equal(made.status, 201);
      const id = made.json.subscription_id as string;

      // 1. The first attempt fails; the server is killed during the 2 s wait before the retry.
      receiver.script('/orders', 503);
      assert.equal(
        (await call(server.url, 'POST', '/v2/queues/orders/messages', { messages: [{ body: 'one' }] })).status,
        201,
      );
      const [first] = await receiver.until('/orders', 1);
      // The server writes the failure and its retry time to the spool just after the answer; give
      // that write time to land (a kill before it would rightly mean "not tried yet": retry at once).
      await new Promise((resolve) => setTimeout(resolve, 400));
      await server.stop('SIGKILL');
      server = await serve(data);
      const [, retried] = await receiver.until('/orders', 2, 15_000);
      assert.equal((retried?.json as { body?: string } | undefined)?.body, 'one', 'the retry came after the restart');
      assert.ok(
        (retried?.at ?? 0) - (first?.at ?? 0) >= 1900,
        `and not before its interval (${(retried?.at ?? 0) - (first?.at ?? 0)} ms after the first try)`,
      );

      // 2. The same across a graceful stop (SIGTERM).
      receiver.script('/orders', 500);
      await call(server.url, 'POST', '/v2/queues/orders/messages', { messages: [{ body: 'two' }] });
      await receiver.until('/orders', 3);
      assert.equal(await server.stop('SIGTERM'), 0, server.output());
      server = await serve(data);
      const hits = await receiver.until('/orders', 4, 15_000);
      assert.equal((hits[3]?.json as { body?: string } | undefined)?.body, 'two');

      // 3. An acknowledged post is notified even when the server dies right after answering: the
      //    receiver answers slowly, so the first attempt is still in flight at the kill.
      receiver.delayMs = 1000;
      const posted = await call(server.url, 'POST', '/v2/queues/orders/messages', { messages: [{ body: 'three' }] });
      assert.equal(posted.status, 201);
      await server.stop('SIGKILL');
      const killedAt = Date.now();
      server = await serve(data);
      const deadline = Date.now() + 15_000;
      while (!receiver.on('/orders').some((h) => h.at > killedAt && (h.json as { body: string }).body === 'three')) {
        if (Date.now() > deadline) assert.fail('the notification of the acknowledged post was lost');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));

      const status = await call(server.url, 'GET', `/v2/queues/orders/subscriptions/${id}`);
      assert.equal(status.json.delivery_status.pending, 0);
      assert.equal(await server.stop('SIGTERM'), 0);
      // `posthorn notify status` reads the counts from the folder the server left.
      const cli = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'notify', 'status', '--json', join(data, 'notifications')],
        { cwd: ROOT, encoding: 'utf8' },
      );
      assert.equal(cli.status, 0, cli.stderr);
      const report = JSON.parse(cli.stdout) as { subscriptions: { id: string; pending: number; delivered: number }[] };
      const row = report.subscriptions.find((r) => r.id === id);
      assert.ok(row, cli.stdout);
      assert.equal(row.pending, 0);
      // Counts written at most a second before a SIGKILL may miss that second's deliveries.
      assert.ok(row.delivered >= 1, cli.stdout);
    } finally {
      await receiver.close();
    }
  });
});
