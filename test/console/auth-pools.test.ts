import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { issueToken } from '../../src/service/index.js';
import {
  ADMIN_TOKEN,
  type ConsoleServer,
  callApi,
  launchBrowser,
  signIn,
  startConsoleServer,
  WAIT_MS,
  waitForText,
} from './console-harness.js';

const SECRET = 'console-test-secret-of-32-characters-or-more';

// One browser for the file; each describe has its own server.
let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('console: sign-in follows auth_strategy token; roles are the API’s', () => {
  let served: ConsoleServer;
  let base: string;
  let member: string;
  let reader: string;

  before(async () => {
    served = await startConsoleServer({ auth_strategy: 'token', token: { secret: SECRET } });
    base = served.server.url;
    member = await issueToken(SECRET, { project: 'p1', roles: ['member'], ttlSeconds: 3600 });
    reader = await issueToken(SECRET, { project: 'p1', roles: ['reader'], ttlSeconds: 3600 });
    const made = await callApi(base, 'PUT', '/v2/queues/jobs', 'p1', {}, { authorization: `Bearer ${member}` });
    assert.equal(made.status, 201);
  });

  after(async () => {
    await served?.close();
  });

  it('without a token the page says the server wants one', async () => {
    const page = await browser.newPage();
    await signIn(page, base, 'p1', null);
    await page.getByRole('alert').filter({ hasText: 'token' }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('tr[data-queue]').count(), 0);
    await page.close();
  });

  it('a reader sees the queues; posting is refused with the API’s 403, and nothing is posted', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/console/?project=p1`);
    await page.getByLabel('Token or API key').fill(reader);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText(page.locator('tr[data-queue="jobs"] td.free'), '0');
    await page.getByRole('link', { name: 'jobs' }).click();
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /not authorized|not allowed|forbidden|role/i })
      .waitFor({
        timeout: WAIT_MS,
      });
    const stats = await callApi(base, 'GET', '/v2/queues/jobs/stats', 'p1', undefined, {
      authorization: `Bearer ${member}`,
    });
    assert.equal(stats.json.messages.total, 0);
    await page.close();
  });
});

describe('console: pools, flavors and a queue move started from the page, with its progress', () => {
  let served: ConsoleServer;
  let base: string;

  before(async () => {
    // Two disk pools; new queues go to "one".
    served = await startConsoleServer((dir) => ({
      pooling: {
        enabled: true,
        cache_seconds: 0,
        settle_seconds: 0,
        default_pool: 'one',
        pools: [
          { name: 'one', uri: `disk://${join(dir, 'one')}`, weight: 100 },
          { name: 'two', uri: `disk://${join(dir, 'two')}`, weight: 0 },
        ],
      },
    }));
    base = served.server.url;
    assert.equal((await callApi(base, 'PUT', '/v2/queues/orders', 'shop', {})).status, 201);
    const messages = Array.from({ length: 25 }, (_, i) => ({ body: { n: i } }));
    assert.equal((await callApi(base, 'POST', '/v2/queues/orders/messages', 'shop', { messages })).status, 201);
  });

  after(async () => {
    await served?.close();
  });

  it('refuses the admin pages without the admin token, as the API does', async () => {
    const page = await browser.newPage();
    await signIn(page, base, 'shop', null);
    await page.locator('header').getByRole('link', { name: 'Pools' }).click();
    await page.getByText('These pages need the admin token').waitFor({ timeout: WAIT_MS });
    await page.getByRole('alert').first().waitFor({ timeout: WAIT_MS });
    await page.close();
  });

  it('lists the pools and moves a queue to another, following the move to its end', async () => {
    const page = await browser.newPage();
    await signIn(page, base, 'shop', ADMIN_TOKEN);
    await page.locator('header').getByRole('link', { name: 'Pools' }).click();
    await page.getByRole('cell', { name: 'two', exact: true }).waitFor({ timeout: WAIT_MS });
    await page.getByLabel('Queue').fill('orders');
    await page.getByLabel('To pool').selectOption('two');
    await page.getByRole('button', { name: 'Start move' }).click();
    await page
      .locator('.move[data-status="done"]')
      .waitFor({ timeout: WAIT_MS })
      .catch(async (error) => {
        throw new Error(`${error.message}\nthe page said: ${await page.locator('main').textContent()}`);
      });
    assert.match((await page.locator('.move').textContent()) ?? '', /one → two/);
    assert.equal(await page.locator('.move progress').getAttribute('value'), '100');
    const status = await callApi(base, 'GET', '/v2/queues/orders/move', 'shop', undefined, {
      'x-admin-token': ADMIN_TOKEN,
    });
    assert.equal(status.json.status, 'done');
    assert.equal(status.json.to, 'two');
    assert.equal((await callApi(base, 'GET', '/v2/queues/orders/stats', 'shop')).json.messages.total, 25);
    await page.close();
  });
});
