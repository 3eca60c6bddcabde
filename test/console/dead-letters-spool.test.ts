import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startWebhookReceiver, type WebhookReceiver } from '../fixtures/webhook-receiver.js';
import {
  ADMIN_TOKEN,
  type ConsoleServer,
  callApi,
  launchBrowser,
  screenshotPath,
  signIn,
  startConsoleServer,
  WAIT_MS,
  waitForText,
} from './console-harness.js';

const PROJECT = 'shop';
// One try, then the next only after five minutes: the entry waits in the spool while the test acts on it.
const SLOW_RETRIES = {
  retries_with_no_delay: 0,
  minimum_delay_retries: 3,
  minimum_delay: 300,
  maximum_delay: 600,
  maximum_delay_retries: 0,
};

describe('console: dead letters and their redrive, the notification spool — in chromium', () => {
  let browser: Browser;
  let served: ConsoleServer;
  let receiver: WebhookReceiver;
  let page: Page;
  let base: string;
  const api = (method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) =>
    callApi(base, method, path, PROJECT, body);

  before(async () => {
    browser = await launchBrowser();
    receiver = await startWebhookReceiver();
    served = await startConsoleServer();
    base = served.server.url;
    assert.equal((await api('PUT', '/v2/queues/orders-dlq', {})).status, 201);
    assert.equal(
      (await api('PUT', '/v2/queues/orders', { _dead_letter_queue: 'orders-dlq', _max_claim_count: 2 })).status,
      201,
    );
    // Dead letters as the claim count leaves them: messages in the dead-letter queue.
    const dead = await api('POST', '/v2/queues/orders-dlq/messages', {
      messages: [
        { body: { order: 'A-1', reason: 'bad address' }, ttl: 7200 },
        { body: { order: 'A-2', reason: 'timeout' }, ttl: 7200 },
      ],
    });
    assert.equal(dead.status, 201);
    page = await browser.newPage();
    await signIn(page, base, PROJECT);
  });

  after(async () => {
    await browser?.close();
    await served?.close();
    await receiver?.close();
  });

  it('shows the dead-letter queue of a queue and redrives a chosen message back into it', async () => {
    await page.goto(`${base}/console/?project=${PROJECT}#/queue/orders/dead-letters`);
    await page.getByRole('heading', { name: 'Dead letters of orders' }).waitFor({ timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="total"]'), '2');
    const first = page.locator('.message', { hasText: '"A-1"' });
    await first.waitFor({ timeout: WAIT_MS });
    await page.locator('.message', { hasText: '"A-2"' }).waitFor({ timeout: WAIT_MS });
    await page.screenshot({ path: screenshotPath('console-dead-letters.png', served.dir), fullPage: true });

    await first.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Redrive chosen (1)' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Redrove 1 message(s) into orders.' })
      .waitFor({ timeout: WAIT_MS });
    await first.waitFor({ state: 'detached', timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="total"]'), '1');

    // Back in its queue, with its body, seen in the queue's page.
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('heading', { name: 'Queue orders' }).waitFor({ timeout: WAIT_MS });
    await page.locator('.message pre', { hasText: '"A-1"' }).waitFor({ timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="total"]'), '1');
    const back = (await api('GET', '/v2/queues/orders/messages?echo=true')).json.messages;
    assert.deepEqual(
      back.map((m: { body: unknown }) => m.body),
      [{ order: 'A-1', reason: 'bad address' }],
    );
    assert.ok(back[0].ttl <= 7200 && back[0].ttl >= 60, 'it kept its remaining ttl');
  });

  it('redrives all that is left, and says so', async () => {
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.locator('.message', { hasText: '"A-2"' }).waitFor({ timeout: WAIT_MS });
    await page.getByRole('button', { name: 'Redrive all' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Redrove 1 message(s) into orders.' })
      .waitFor({ timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="total"]'), '0');
    assert.equal((await api('GET', '/v2/queues/orders/stats')).json.messages.total, 2);
  });

  it('says when a queue has no dead-letter queue', async () => {
    assert.equal((await api('PUT', '/v2/queues/plain', {})).status, 201);
    await page.goto(`${base}/console/?project=${PROJECT}#/queue/plain/dead-letters`);
    await page.getByText('This queue has no dead-letter queue').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.getByRole('button', { name: 'Redrive all' }).count(), 0);
  });

  it('shows a waiting notification with its delivery status, freezes it, then sends it now', async () => {
    receiver.script('/hook', 503);
    assert.equal((await api('PUT', '/v2/queues/events', { _retry_policy: SLOW_RETRIES })).status, 201);
    const subscribed = await api('POST', '/v2/queues/events/subscriptions', {
      subscriber: receiver.url('/hook'),
      ttl: 3600,
    });
    assert.equal(subscribed.status, 201, JSON.stringify(subscribed.json));
    assert.equal((await api('POST', '/v2/queues/events/messages', { messages: [{ body: { paid: 7 } }] })).status, 201);
    await receiver.until('/hook', 1, WAIT_MS);

    // The subscription's delivery status comes from the spool: one pending.
    await page.goto(`${base}/console/?project=${PROJECT}#/queue/events/subscriptions`);
    const row = page.locator(`tr[data-subscriber="${receiver.url('/hook')}"]`);
    await waitForText(row.locator('td').nth(5), '1');

    await page.locator('header').getByRole('link', { name: 'Spool' }).click();
    await page.getByRole('heading', { name: 'Notification spool' }).waitFor({ timeout: WAIT_MS });
    const entry = page.locator('tr[data-entry]');
    await waitForText(entry.locator('td.state'), 'send-at');
    const id = await entry.getAttribute('data-entry');
    assert.ok(id);

    await entry.getByRole('button', { name: 'Freeze' }).click();
    await waitForText(entry.locator('td.state'), 'frozen');
    const frozen = await callApi(base, 'GET', '/v2/notifications/spool', PROJECT, undefined, {
      'x-admin-token': ADMIN_TOKEN,
    });
    assert.equal(frozen.json.messages[0].state, 'frozen', 'frozen in the spool, not only on the page');
    assert.equal(receiver.on('/hook').length, 1, 'a frozen entry is not tried');

    await entry.getByRole('button', { name: 'Send now' }).click();
    const hits = await receiver.until('/hook', 2, WAIT_MS);
    assert.deepEqual((hits[1]?.json as { body?: unknown })?.body, { paid: 7 });
    await entry.waitFor({ state: 'detached', timeout: WAIT_MS });
    await page.getByText('The spool is empty.').waitFor({ timeout: WAIT_MS });

    // And the subscription says it was delivered.
    await page.goto(`${base}/console/?project=${PROJECT}#/queue/events/subscriptions`);
    await waitForText(row.locator('td').nth(4), '1');
    await waitForText(row.locator('td').nth(5), '0');
  });

  it('saved the dead-letter page’s screenshot', () => {
    const file = screenshotPath('console-dead-letters.png', served.dir);
    assert.ok(existsSync(file) && statSync(file).size > 10_000, file);
  });
});
