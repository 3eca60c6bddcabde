// Run with plain node in a project that installed the packed tarball with its optional
// dependencies (scripts/check-package.mjs): `npx posthorn serve` answers, keeps what it
// acknowledged across a graceful stop, and every other entry point works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const HEADERS = { 'Client-ID': '3381af92-2b9e-11e3-b191-71861300734c', 'X-Project-ID': 'smoke' };
const root = mkdtempSync(join(tmpdir(), 'posthorn-smoke-server-'));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function call(url, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...HEADERS, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

/** `posthorn serve` on free ports, started by `command`; resolves once /healthz answers. */
async function serve(command, data) {
  const [port, wsPort] = [await freePort(), await freePort()];
  const args = ['serve', '--port', `${port}`, '--ws-port', `${wsPort}`, '--data', data];
  const child = spawn(command[0], [...command.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await fetch(`${url}/healthz`).catch(() => null);
    if (answer?.status === 200) break;
    const gone = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (gone !== undefined) throw new Error(`posthorn serve exited (${gone}): ${output}`);
    if (Date.now() > deadline) throw new Error(`posthorn serve did not answer /healthz in 60 s: ${output}`);
  }
  return { url, child, exited, output: () => output };
}

try {
  const data = join(root, 'data');
  // Through npx, as a user starts it; a SIGTERM to npx stops the server gracefully too.
  const first = await serve(['npx', 'posthorn'], data);
  assert.equal((await call(first.url, 'PUT', '/v2/queues/mail')).status, 201);
  const posted = await call(first.url, 'POST', '/v2/queues/mail/messages', { messages: [{ body: { to: 'ada' } }] });
  assert.equal(posted.status, 201);
  assert.equal((await fetch(`${first.url}/readyz`)).status, 200);
  // The web console's page and the libraries it runs on come from the installed package.
  for (const path of ['/console/', '/console/console.js', '/console/vendor/preact.mjs', '/console/vendor/htm.mjs']) {
    const page = await fetch(`${first.url}${path}`);
    assert.equal(page.status, 200, `GET ${path}`);
    assert.ok((await page.text()).length > 100, `GET ${path} has a body`);
  }
  assert.match(first.output(), /"msg":"posthorn serving"/);
  first.child.kill('SIGTERM');
  await first.exited;
  const stopBy = Date.now() + 30_000;
  while (
    await fetch(`${first.url}/healthz`).then(
      () => true,
      () => false,
    )
  ) {
    assert.ok(Date.now() < stopBy, `the server npx started stops when npx is stopped: ${first.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // The installed command itself: SIGTERM is a graceful stop, exit code 0, and the post survived.
  const second = await serve(['node_modules/.bin/posthorn'], data);
  const claimed = await call(second.url, 'POST', '/v2/queues/mail/claims', { ttl: 60 });
  assert.equal(claimed.status, 201);
  assert.deepEqual(
    claimed.json.messages.map((m) => m.body),
    [{ to: 'ada' }],
  );
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, `a graceful stop exits 0: ${second.output()}`);

  // posthorn/server in this process.
  const { loadServerConfig, startServer } = await import('posthorn/server');
  const server = await startServer(
    loadServerConfig({ flags: { port: 0, wsPort: 0, store: 'memory', logLevel: 'silent' }, env: {}, cwd: root }),
  );
  assert.equal((await call(server.url, 'PUT', '/v2/queues/inproc')).status, 201);
  await server.close();

  // posthorn/redis and posthorn/postgres against the local servers.
  const { createRedisDriver } = await import('posthorn/redis');
  const prefix = `smoke-${process.pid}:`;
  const redis = await createRedisDriver({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: prefix });
  await redis.messages.post('p', 'q', [{ body: 'r' }], 'smoke');
  assert.equal((await redis.queues.stats('p', 'q')).total, 1);
  await redis.queues.delete('p', 'q');
  await redis.close();
  const { createPostgresDriver } = await import('posthorn/postgres');
  const schema = `smoke_${process.pid}`;
  const pgUrl = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';
  const postgres = await createPostgresDriver({ url: pgUrl, schema });
  await postgres.messages.post('p', 'q', [{ body: 'pg' }], 'smoke');
  assert.equal((await postgres.queues.stats('p', 'q')).total, 1);
  await postgres.close();
  const { default: pg } = await import('pg');
  const parts = new URL(pgUrl);
  const client = new pg.Client({
    host: parts.hostname,
    port: Number(parts.port || 5432),
    database: parts.pathname.slice(1),
    user: decodeURIComponent(parts.username) || process.env.PGUSER || userInfo().username,
    ...(parts.password ? { password: decodeURIComponent(parts.password) } : {}),
  });
  await client.connect();
  await client.query(`DROP SCHEMA ${schema} CASCADE`);
  await client.end();

  // posthorn/pool opens a Redis pool by URI (its driver loads then).
  const { openPoolDriver, parsePoolUri } = await import('posthorn/pool');
  assert.equal(parsePoolUri('redis://127.0.0.1:6379').kind, 'redis');
  const pooled = await openPoolDriver('memory://', { limits: (await import('posthorn')).DEFAULT_LIMITS });
  assert.ok(await pooled.isAlive());
  await pooled.close();
  console.log('server: ok');
} finally {
  rmSync(root, { recursive: true, force: true });
}
