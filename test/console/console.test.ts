import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildHttpApp } from '../../src/api/http/index.js';
import { StorageUnavailableError } from '../../src/core/index.js';
import { QueueService, singleDriverResolver } from '../../src/service/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';
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

const PROJECT = 'acme';

describe('console: queues, one queue, messages, metadata — in chromium', () => {
  let browser: Browser;
  let served: ConsoleServer;
  let page: Page;
  let base: string;
  const api = (method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) =>
    callApi(base, method, path, PROJECT, body);

  before(async () => {
    browser = await launchBrowser();
    served = await startConsoleServer();
    base = served.server.url;
    assert.equal((await api('PUT', '/v2/queues/orders', {})).status, 201);
    assert.equal((await api('PUT', '/v2/queues/invoices', {})).status, 201);
    const big = { lines: Array.from({ length: 60 }, (_, i) => ({ sku: `item-${i}`, quantity: i })) };
    const posted = await api('POST', '/v2/queues/orders/messages', {
      messages: [{ body: { order: 1 } }, { body: { order: 2 } }, { body: big }],
    });
    assert.equal(posted.status, 201);
    // One message claimed: the queue shows it as claimed, and the claim as in force.
    const claimed = await api('POST', '/v2/queues/invoices/messages', { messages: [{ body: 'x' }, { body: 'y' }] });
    assert.equal(claimed.status, 201);
    assert.equal((await api('POST', '/v2/queues/invoices/claims?limit=1', { ttl: 300, grace: 60 })).status, 201);
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await served?.close();
  });

  it('serves the page and its libraries from the package, and nothing beside them', async () => {
    for (const path of ['/console/', '/console/console.js', '/console/vendor/preact.mjs', '/console/vendor/htm.mjs']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 200, path);
    }
    const bare = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.get('location'), '/console/');
    for (const path of ['/console/package.json', '/console/..%2Fpackage.json', '/console/vendor/x.mjs']) {
      assert.equal((await fetch(`${base}${path}`)).status, 404, path);
    }
  });

  it('lists the project’s queues with their counts, and follows them without a reload', async () => {
    await signIn(page, base, PROJECT);
    const orders = page.locator('tr[data-queue="orders"]');
    await waitForText(orders.locator('td.free'), '3');
    await waitForText(orders.locator('td.claimed'), '0');
    const invoices = page.locator('tr[data-queue="invoices"]');
    await waitForText(invoices.locator('td.free'), '1');
    await waitForText(invoices.locator('td.claimed'), '1');
    // Posted by another client: the page's polling shows it, no reload.
    const loads: string[] = [];
    page.on('load', () => loads.push(page.url()));
    assert.equal((await api('POST', '/v2/queues/orders/messages', { messages: [{ body: { order: 4 } }] })).status, 201);
    await waitForText(orders.locator('td.free'), '4');
    assert.deepEqual(loads, [], 'the page was not reloaded');
  });

  it('with /metrics served: delayed counts, and posted and deleted per second', async (t) => {
    const metrics = await fetch(`${base}/metrics`, { headers: { 'x-admin-token': ADMIN_TOKEN } });
    await metrics.arrayBuffer();
    if (metrics.status !== 200) {
      t.skip(`GET /metrics answers ${metrics.status}: this build has no metrics, the columns show "–"`);
      await waitForText(page.locator('tr[data-queue="orders"] td.posted'), '–');
      return;
    }
    const delayed = await api('POST', '/v2/queues/invoices/messages', { messages: [{ body: 'later', delay: 600 }] });
    assert.equal(delayed.status, 201);
    const invoices = page.locator('tr[data-queue="invoices"]');
    await waitForText(invoices.locator('td.delayed'), '1');
    // A rate is a number once two scrapes were read; what it is depends on timing, so only its form is checked.
    await invoices.locator('td.posted', { hasText: /^\d+\.\d$/ }).waitFor({ timeout: WAIT_MS });
    await invoices.locator('td.deleted', { hasText: /^\d+\.\d$/ }).waitFor({ timeout: WAIT_MS });
    // Tidy for the next tests, which count this queue's free messages.
    const id = delayed.json.resources[0].split('/').at(-1);
    assert.equal((await api('DELETE', `/v2/queues/invoices/messages/${id}`)).status, 204);
  });

  it('opens a queue: counts, pretty bodies, large bodies folded, claims in force', async () => {
    await page.getByRole('link', { name: 'invoices' }).click();
    await page.getByRole('heading', { name: 'Queue invoices' }).waitFor({ timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="claimed"]'), '1');
    await page.locator('.message .claimed').first().waitFor({ timeout: WAIT_MS });
    const claims = page.locator('h2:has-text("Claims in force") + table tbody tr');
    await claims.first().waitFor({ timeout: WAIT_MS });
    assert.equal(await claims.count(), 1);

    await page.goto(`${base}/console/?project=${PROJECT}#/queue/orders`);
    await waitForText(page.locator('[data-count="free"]'), '4');
    const folded = page.locator('.message details.body');
    await folded.waitFor({ timeout: WAIT_MS });
    assert.equal(await folded.count(), 1, 'only the large body is folded');
    assert.match((await folded.locator('summary').textContent()) ?? '', /characters/);
    const small = page.locator('.message pre.body', { hasText: '"order": 1' });
    await small.waitFor({ timeout: WAIT_MS });
    assert.equal(await small.textContent(), '{\n  "order": 1\n}', 'bodies are pretty JSON');
  });

  it('posts a message and shows it; deletes one; the counts follow', async () => {
    await page.getByLabel('message body').fill('{"order": 42, "note": "from the console"}');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    const note = page.getByRole('status').filter({ hasText: /^Posted / });
    await note.waitFor({ timeout: WAIT_MS });
    const id = ((await note.textContent()) ?? '').replace(/^Posted (.*)\.$/, '$1');
    assert.ok(id.length > 0);
    await page
      .locator(`.message[data-id="${id}"] pre`, { hasText: '"from the console"' })
      .waitFor({ timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="free"]'), '5');
    const stored = await api('GET', `/v2/queues/orders/messages/${id}`);
    assert.deepEqual(stored.json.body, { order: 42, note: 'from the console' }, 'posted through the API');

    await page.locator(`.message[data-id="${id}"]`).getByRole('button', { name: 'Delete' }).click();
    await page.locator(`.message[data-id="${id}"]`).waitFor({ state: 'detached', timeout: WAIT_MS });
    await waitForText(page.locator('[data-count="free"]'), '4');
    assert.equal((await api('GET', `/v2/queues/orders/messages/${id}`)).status, 404);
    await page.screenshot({ path: screenshotPath('console-queue.png', served.dir), fullPage: true });
  });

  it('edits metadata, and shows the server’s validation error as it says it', async () => {
    const editor = page.getByLabel('metadata');
    await editor.fill('{"_max_claim_count": "often"}');
    await page.getByRole('button', { name: 'Save metadata' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: '_max_claim_count' });
    await refusal.waitFor({ timeout: WAIT_MS });
    assert.equal((await api('GET', '/v2/queues/orders')).json._max_claim_count, null, 'nothing was saved');

    const shown = JSON.parse((await editor.inputValue()) || '{}');
    await editor.fill(JSON.stringify({ ...shown, _max_claim_count: 3, team: 'billing' }));
    await page.getByRole('button', { name: 'Save metadata' }).click();
    await page.getByRole('status').filter({ hasText: 'Metadata saved.' }).waitFor({ timeout: WAIT_MS });
    const saved = (await api('GET', '/v2/queues/orders')).json;
    assert.equal(saved._max_claim_count, 3);
    assert.equal(saved.team, 'billing');
    assert.equal(
      (await served.server.service.queues.get(PROJECT, 'orders', false))._default_message_ttl,
      undefined,
      'the defaults shown were not stored',
    );
  });

  it('purges the queue after asking', async () => {
    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', { name: 'Purge messages' }).click();
    await waitForText(page.locator('[data-count="total"]'), '0');
    assert.equal((await api('GET', '/v2/queues/orders/stats')).json.messages.total, 0);
  });

  it('saved the queue page’s screenshot', () => {
    const file = screenshotPath('console-queue.png', served.dir);
    assert.ok(existsSync(file) && statSync(file).size > 10_000, file);
  });
});

describe('console: a failing store is a message on the page, never a blank page', () => {
  let browser: Browser;
  let close: () => Promise<void>;
  let base: string;
  let broken = false;

  before(async () => {
    browser = await launchBrowser();
    // A memory store whose calls fail while `broken` is set (as a pool that went away does).
    const real = createMemoryDriver();
    const switchable = <T extends object>(controller: T): T =>
      new Proxy(controller, {
        get(target, key) {
          const value = Reflect.get(target, key);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (broken) return Promise.reject(new StorageUnavailableError('the store is down for this test'));
            return value.apply(target, args);
          };
        },
      });
    const driver: DataDriver = {
      ...real,
      queues: switchable(real.queues),
      messages: switchable(real.messages),
      claims: switchable(real.claims),
      subscriptions: switchable(real.subscriptions),
    };
    const service = new QueueService({ resolver: singleDriverResolver(driver) });
    const app = buildHttpApp({ service, adminToken: ADMIN_TOKEN });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
  });

  after(async () => {
    await browser?.close();
    await close?.();
  });

  it('shows the 503’s title and description where the queues were, and recovers by itself', async () => {
    const page = await browser.newPage();
    assert.equal((await callApi(base, 'PUT', '/v2/queues/jobs', 'p', {})).status, 201);
    await signIn(page, base, 'p');
    await page.locator('tr[data-queue="jobs"]').waitFor({ timeout: WAIT_MS });
    broken = true;
    const alert = page.getByRole('alert');
    await alert.first().waitFor({ timeout: WAIT_MS });
    assert.match((await alert.first().textContent()) ?? '', /Service unavailable|could not/i);
    assert.ok((await page.locator('h1').textContent())?.includes('Queues of project p'), 'the page is still there');
    broken = false;
    await alert.first().waitFor({ state: 'detached', timeout: WAIT_MS });
  });
});
