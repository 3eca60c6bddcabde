import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const HEADERS = { 'client-id': CLIENT, 'x-project-id': 'tls', 'content-type': 'application/json' };

/** A self-signed certificate for 127.0.0.1, made now (openssl), and its key. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

describe('server: [tls] serves HTTPS and WSS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-tls-'));
  let files: { cert: string; key: string };
  let server: RunningServer;
  let ca: Buffer;
  let agent: Agent;
  before(async () => {
    files = makeCertificate(dir, 'server');
    ca = readFileSync(files.cert);
    agent = new Agent({ connect: { ca } });
    const config = loadServerConfig({
      env: {
        POSTHORN_STORE: 'memory',
        POSTHORN_LOG_LEVEL: 'silent',
        POSTHORN_TLS_CERT: files.cert,
        POSTHORN_TLS_KEY: files.key,
      },
      cwd: dir,
      flags: { port: 0, wsPort: 0, data: join(dir, 'data') },
    });
    server = await startQueueServer(config);
  });
  after(async () => {
    await server?.close();
    await agent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers HTTPS to a client that trusts the certificate, and not plain HTTP', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await request(`${server.url}/v2/queues/secure`, {
      method: 'PUT',
      headers: HEADERS,
      dispatcher: agent,
    });
    await answer.body.dump();
    assert.equal(answer.statusCode, 201);
    const plain = server.url.replace(/^https:/, 'http:');
    await assert.rejects(request(`${plain}/v2/queues`, { headers: HEADERS }), 'plain HTTP to the TLS port fails');
    // A client that does not trust the certificate is refused in the handshake.
    await assert.rejects(request(`${server.url}/v2/queues`, { headers: HEADERS }), /self[- ]signed|certificate/i);
  });

  it('answers WSS, and pushes to a socket that subscribes itself', async () => {
    assert.match(server.wsUrl, /^wss:\/\//);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(server.wsUrl.replace(/^wss:/, 'ws:'));
        ws.once('open', resolve).once('error', reject);
      }),
      'plain WS to the TLS port fails',
    );
    const ws = new WebSocket(server.wsUrl, { ca });
    const answers: { headers: { status: number }; body: unknown }[] = [];
    const pushed: { body?: unknown }[] = [];
    ws.on('message', (data) => {
      const doc = JSON.parse(data.toString()) as Record<string, unknown>;
      if ('request' in doc) answers.push(doc as never);
      else pushed.push(doc);
    });
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const deadline = Date.now() + 30_000;
    const until = async (ready: () => boolean, what: string) => {
      while (!ready()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const headers = { 'Client-ID': CLIENT, 'X-Project-ID': 'tls' };
    ws.send(JSON.stringify({ action: 'subscription_create', headers, body: { queue_name: 'pushed', ttl: 600 } }));
    await until(() => answers.length >= 1, 'the subscription');
    assert.equal(answers[0]?.headers.status, 201);
    const posted = await request(`${server.url}/v2/queues/pushed/messages`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ messages: [{ body: 'over tls', ttl: 300 }] }),
      dispatcher: agent,
    });
    await posted.body.dump();
    assert.equal(posted.statusCode, 201);
    await until(() => pushed.length >= 1, 'the push');
    assert.equal(pushed[0]?.body, 'over tls');
    ws.close();
    // The same API at /v2/ws on the HTTPS port.
    const onHttpPort = new WebSocket(`${server.url.replace(/^https:/, 'wss:')}/v2/ws`, { ca });
    await new Promise<void>((resolve, reject) => onHttpPort.once('open', () => resolve()).once('error', reject));
    onHttpPort.close();
  });

  it('refuses to start on missing, unreadable, non-PEM or mismatched files, naming the setting', () => {
    const other = makeCertificate(dir, 'other');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const refuse = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => loadServerConfig({ env, cwd: dir }),
        (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
        JSON.stringify(env),
      );
    refuse({ POSTHORN_TLS_CERT: files.cert }, /'tls\.key' is missing/);
    refuse({ POSTHORN_TLS_KEY: files.key }, /'tls\.cert' is missing/);
    refuse(
      { POSTHORN_TLS_CERT: join(dir, 'absent.pem'), POSTHORN_TLS_KEY: files.key },
      /POSTHORN_TLS_CERT names a file that cannot be read: .*absent\.pem \(ENOENT\)/,
    );
    refuse({ POSTHORN_TLS_CERT: garbage, POSTHORN_TLS_KEY: files.key }, /POSTHORN_TLS_CERT .*not a PEM certificate/);
    refuse({ POSTHORN_TLS_CERT: files.cert, POSTHORN_TLS_KEY: garbage }, /POSTHORN_TLS_KEY .*not the private key/);
    refuse({ POSTHORN_TLS_CERT: files.cert, POSTHORN_TLS_KEY: other.key }, /POSTHORN_TLS_KEY .*not the private key/);
    // In a file, the paths are relative to its folder.
    const file = join(dir, 'tls.toml');
    writeFileSync(file, '[tls]\ncert = "server-cert.pem"\nkey = "server-key.pem"\n');
    const config = loadServerConfig({ env: {}, cwd: tmpdir(), flags: { config: file } });
    assert.equal(config.tls?.certFile, files.cert);
    assert.equal(config.tls?.keyFile, files.key);
  });
});
