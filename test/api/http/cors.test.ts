import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../../src/core/index.js';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../../src/server/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const ALLOWED = 'https://app.example.org';

describe('http: [cors]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-cors-'));
  const servers: RunningServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (env: Record<string, string>) => {
    const config = loadServerConfig({
      env: { POSTHORN_STORE: 'memory', POSTHORN_LOG_LEVEL: 'silent', ...env },
      cwd: dir,
      flags: { port: 0, wsPort: 0, data: join(dir, `data-${servers.length}`) },
    });
    const server = await startQueueServer(config);
    servers.push(server);
    return server;
  };
  const preflight = (server: RunningServer, origin: string) =>
    server.app.inject({
      method: 'OPTIONS',
      url: '/v2/queues/q/messages',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'client-id, x-project-id, content-type',
      },
    });
  const corsHeaders = (headers: Record<string, unknown>) =>
    Object.keys(headers).filter((h) => h.startsWith('access-control-'));

  it('answers a preflight from an allowed origin with the configured headers, and real requests too', async () => {
    const server = await start({ POSTHORN_CORS_ALLOWED_ORIGIN: `${ALLOWED}, https://other.example.org` });
    const answer = await preflight(server, ALLOWED);
    assert.equal(answer.statusCode, 204);
    assert.equal(answer.headers['access-control-allow-origin'], ALLOWED);
    assert.equal(answer.headers['access-control-allow-credentials'], 'true');
    assert.equal(answer.headers['access-control-max-age'], '3600');
    assert.match(String(answer.headers['access-control-allow-methods']), /\bPOST\b/);
    assert.match(String(answer.headers['access-control-allow-headers']), /Client-ID/);
    const get = await server.app.inject({
      method: 'GET',
      url: '/v2/queues',
      headers: { origin: ALLOWED, 'client-id': CLIENT, 'x-project-id': 'p' },
    });
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['access-control-allow-origin'], ALLOWED);
  });

  it('gives an origin that is not allowed, or no origin, no CORS header at all', async () => {
    const server = await start({ POSTHORN_CORS_ALLOWED_ORIGIN: ALLOWED });
    const refused = await preflight(server, 'https://evil.example.org');
    assert.deepEqual(corsHeaders(refused.headers), []);
    assert.notEqual(refused.statusCode, 204, 'the preflight is not answered as one');
    const get = await server.app.inject({
      method: 'GET',
      url: '/v2/queues',
      headers: { origin: 'https://evil.example.org', 'client-id': CLIENT, 'x-project-id': 'p' },
    });
    assert.equal(get.statusCode, 200, 'the request itself is served as without CORS');
    assert.deepEqual(corsHeaders(get.headers), []);
    const plain = await server.app.inject({
      method: 'GET',
      url: '/v2/queues',
      headers: { 'client-id': CLIENT, 'x-project-id': 'p' },
    });
    assert.deepEqual(corsHeaders(plain.headers), []);
  });

  it('is off by default: even a preflight from any origin gets no CORS header', async () => {
    assert.equal(loadServerConfig({ env: {}, cwd: dir }).cors, null);
    const server = await start({});
    const answer = await preflight(server, ALLOWED);
    assert.deepEqual(corsHeaders(answer.headers), []);
    assert.equal(answer.statusCode, 405, "Zaqar's answer to OPTIONS on a known path");
  });

  it('reads the other options, and refuses origins that could never match', () => {
    const config = loadServerConfig({
      env: { POSTHORN_CORS_ALLOWED_ORIGIN: ALLOWED },
      cwd: dir,
    });
    assert.deepEqual(config.cors?.allowedOrigins, [ALLOWED]);
    assert.equal(config.cors?.maxAge, 3600);
    const file = join(dir, 'cors.toml');
    writeFileSync(
      file,
      `[cors]\nallowed_origin = ["${ALLOWED}"]\nallow_credentials = false\nexpose_headers = ["Location"]\n` +
        'max_age = 60\nallow_methods = ["get"]\nallow_headers = ["Client-ID"]\n',
    );
    assert.deepEqual(loadServerConfig({ env: {}, cwd: dir, flags: { config: file } }).cors, {
      allowedOrigins: [ALLOWED],
      allowCredentials: false,
      exposeHeaders: ['Location'],
      maxAge: 60,
      allowMethods: ['GET'],
      allowHeaders: ['Client-ID'],
    });
    for (const bad of ['https://app.example.org/', 'app.example.org', 'https://app.example.org/path']) {
      assert.throws(
        () => loadServerConfig({ env: { POSTHORN_CORS_ALLOWED_ORIGIN: bad }, cwd: dir }),
        (e: unknown) => e instanceof InvalidArgumentError && /POSTHORN_CORS_ALLOWED_ORIGIN/.test(e.message),
        bad,
      );
    }
  });
});
