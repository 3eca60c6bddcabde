import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLog } from '../../src/multispool/index.js';
import { SpoolFolder } from '../../src/spool/index.js';
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

/** How long a server may take to do what the test waits for, on a busy machine. */
const DEADLINE_MS = 60_000;

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True when the notifications spool under `data` holds a message waiting for its retry time. */
async function retryIsSpooled(data: string): Promise<boolean> {
  const root = join(data, 'notifications');
  for (const slot of readdirSync(root).filter((n) => /^\d+$/.test(n))) {
    const folder = await SpoolFolder.open(join(root, slot, 'spool'), { createIfMissing: false, log: silentLog });
    const messages = await folder.readAll(['active']);
    if (messages.some((m) => m.meta.status === 'send-at' && m.meta.nextAttemptAt !== null)) return true;
  }
  return false;
}

describe('server: notifications survive a restart of posthorn serve', { timeout: 300_000 }, () => {
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
      // The server writes the failure and its retry time to the spool just after the answer; kill
      // it once that is on disk (a kill before it would rightly mean "not tried yet": retry at once).
      await until(() => retryIsSpooled(data), 'the retry time in the spool');
      await server.stop('SIGKILL');
      server = await serve(data);
      const [, retried] = await receiver.until('/orders', 2, DEADLINE_MS);
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
      const hits = await receiver.until('/orders', 4, DEADLINE_MS);
      assert.equal((hits[3]?.json as { body?: string } | undefined)?.body, 'two');
      // Its result saved (nothing pending), so the kill below does not catch it mid-attempt.
      await until(
        async () =>
          (await call(server.url, 'GET', `/v2/queues/orders/subscriptions/${id}`)).json.delivery_status.pending === 0,
        "the retry's result to be saved",
      );

      // 3. An acknowledged post is notified even when the server dies right after answering. A
      //    queue and subscription of their own, so their counts start at 0; the receiver answers
      //    nothing on /late until the server is dead, so the dead server cannot have delivered.
      assert.equal((await call(server.url, 'PUT', '/v2/queues/late', { _retry_policy: POLICY })).status, 201);
      const late = await call(server.url, 'POST', '/v2/queues/late/subscriptions', {
        subscriber: receiver.url('/late'),
        ttl: 3600,
      });
      assert.equal(late.status, 201);
      const lateId = late.json.subscription_id as string;
      receiver.hold('/late');
      const posted = await call(server.url, 'POST', '/v2/queues/late/messages', { messages: [{ body: 'three' }] });
      assert.equal(posted.status, 201);
      await server.stop('SIGKILL');
      receiver.release('/late');
      server = await serve(data);
      const lateCounts = async () =>
        (await call(server.url, 'GET', `/v2/queues/late/subscriptions/${lateId}`)).json.delivery_status as {
          delivered: number;
          pending: number;
        };
      // Delivered is counted when the receiver answers, pending drops once the attempt's result
      // is saved a moment later: wait for both.
      let counts = await lateCounts();
      await until(async () => {
        counts = await lateCounts();
        return counts.delivered >= 1 && counts.pending === 0;
      }, 'the restarted server to deliver it');
      assert.deepEqual(counts, { delivered: 1, pending: 0, failed: 0 });
      assert.ok(
        receiver.on('/late').some((h) => !h.abandoned && (h.json as { body: string }).body === 'three'),
        'the receiver answered the notification of the acknowledged post',
      );

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
      // Counts written at most a second before a SIGKILL may miss that second's deliveries; the
      // SIGTERMed server of part 1's retry wrote its own.
      assert.ok(row.delivered >= 1, cli.stdout);
      // The last server delivered /late's only notification and stopped gracefully.
      const lateRow = report.subscriptions.find((r) => r.id === lateId);
      assert.deepEqual([lateRow?.delivered, lateRow?.pending], [1, 0], cli.stdout);
    } finally {
      await receiver.close();
    }
  });
});
