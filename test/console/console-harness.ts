import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { request } from 'undici';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';

export const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
export const ADMIN_TOKEN = 'console-test-admin-token-0123456789';
/** Generous: the machine is shared; every wait is for a state, never for a time. */
export const WAIT_MS = 30_000;

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium, headless. One a test file, closed in its after(). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface ConsoleServer {
  server: RunningServer;
  dir: string;
  close(): Promise<void>;
}

type Settings = Record<string, unknown>;

/**
 * `posthorn serve` in this process on a disk store, noauth, with an admin token; `extra` adds
 * settings (a function of the server's scratch folder when they name paths in it).
 */
export async function startConsoleServer(extra: Settings | ((dir: string) => Settings) = {}): Promise<ConsoleServer> {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-console-'));
  const file = join(dir, 'posthorn.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: 'disk',
      log_level: 'silent',
      data: join(dir, 'data'),
      admin: { token: ADMIN_TOKEN },
      ...(typeof extra === 'function' ? extra(dir) : extra),
    }),
  );
  const server = await startQueueServer(
    loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
  );
  return {
    server,
    dir,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field and assert on them
  json: any;
}

/** An API call as any client makes it: the tests seed data and check outcomes this way. */
export async function callApi(
  base: string,
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  project: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await request(`${base}${path}`, {
    method,
    headers: { 'client-id': CLIENT, 'x-project-id': project, 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

/** Opens the console for a project and signs in (with the admin token unless told otherwise). */
export async function signIn(page: Page, base: string, project: string, adminToken: string | null = ADMIN_TOKEN) {
  await page.goto(`${base}/console/?project=${encodeURIComponent(project)}`);
  if (adminToken) await page.getByLabel('Admin token').fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Queues of project ${project}` }).waitFor({ timeout: WAIT_MS });
}

/** Waits until the locator's text is exactly `text` (the page polls; this follows it). */
export async function waitForText(locator: Locator, text: string): Promise<void> {
  await locator.filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor({
    timeout: WAIT_MS,
  });
}

/**
 * Where the screenshots go: docs/ when POSTHORN_CONSOLE_SCREENSHOTS=docs (to refresh the README's
 * pictures), else a scratch folder, so a test run leaves the working tree as it found it.
 */
export function screenshotPath(name: string, scratch: string): string {
  if (process.env.POSTHORN_CONSOLE_SCREENSHOTS === 'docs') {
    const docs = resolve(import.meta.dirname, '..', '..', 'docs');
    mkdirSync(docs, { recursive: true });
    return join(docs, name);
  }
  return join(scratch, name);
}
