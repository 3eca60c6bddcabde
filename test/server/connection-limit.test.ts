/**
 * Issue 12, defect 10: at the file-descriptor limit new clients got empty replies and nothing was
 * logged. A server holds at most max_connections client connections (both ports together); one
 * more is answered 503 with Zaqar's body and Retry-After, then closed; the operator is told once
 * per episode, and again when there is room.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { openFilesSoftLimit } from '../../src/server/connection-limit.js';
import { loadServerConfig, startQueueServer } from '../../src/server/index.js';
import { ROOT } from '../interop/serve-process.js';

const REFUSAL_BODY = {
  title: 'Service temporarily unavailable',
  description: 'The server has as many connections open as it can hold. Please try again in a few seconds.',
};
/** The soft limit on open files the ulimit case starts its server under. */
const LOW_LIMIT = 256;
const PING = 'GET /v2/ping HTTP/1.1\r\nHost: t\r\nX-Project-Id: p\r\n\r\n';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `text` and reads until the server closes the socket; the raw answer. */
async function exchangeUntilClose(port: number, text: string): Promise<string> {
  const socket = await open(port);
  socket.setEncoding('utf8');
  let answer = '';
  socket.on('data', (chunk: string) => {
    answer += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.write(text);
  await closed;
  return answer;
}

/** A socket that has had one answer on a kept-alive connection (so the server has surely admitted it). */
async function heldConnection(port: number): Promise<Socket> {
  const socket = await open(port);
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    socket.on('data', (chunk: string) => {
      seen += chunk;
      if (seen.includes('\r\n\r\n')) resolve();
    });
    socket.once('error', reject);
    socket.write(PING);
  });
  return socket;
}

function assertRefusal(answer: string): void {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const lines = head.split('\r\n');
  assert.equal(lines[0], 'HTTP/1.1 503 Service Unavailable', answer);
  const headers = new Map(
    lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 2)]),
  );
  assert.equal(headers.get('retry-after'), '30');
  assert.equal(headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(Number(headers.get('content-length')), Buffer.byteLength(body));
  assert.deepEqual(JSON.parse(body), REFUSAL_BODY);
}

describe('server: the connection limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-connlimit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses clients over max_connections with a 503 and Zaqar’s body, logs it once, and says when it clears', async () => {
    const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const MAX = 4;
    writeFileSync(join(dir, 'posthorn.toml'), `port = 0\nws_port = 0\nstore = "memory"\nmax_connections = ${MAX}\n`);
    const server = await startQueueServer(loadServerConfig({ env: {}, cwd: dir }), pino({ level: 'debug' }, sink));
    const held: Socket[] = [];
    try {
      const httpPort = server.port;
      const wsPort = Number(new URL(server.wsUrl).port);
      for (let i = 0; i < MAX; i++) held.push(await heldConnection(httpPort));
      // Over the limit, on either port: HTTP, a WebSocket upgrade, and a client that sends nothing.
      const upgrade =
        'GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
      const answers = [
        await exchangeUntilClose(httpPort, PING),
        await exchangeUntilClose(httpPort, PING),
        await exchangeUntilClose(wsPort, upgrade),
        await exchangeUntilClose(httpPort, ''),
      ];
      for (const [i, answer] of answers.entries())
        assert.doesNotThrow(() => assertRefusal(answer), `answer ${i}: ${JSON.stringify(answer)}`);
      const warnings = lines.filter((l) => l.level >= 40);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]?.msg ?? '', /connection limit reached/);
      assert.equal(warnings[0]?.maxConnections, MAX);

      // Room again: one info line (with what was refused), and clients are served.
      (held.pop() as Socket).destroy();
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => /connection limit cleared/.test(l.msg))) {
        if (Date.now() > deadline) throw new Error('no line said the limit cleared');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const cleared = lines.filter((l) => /connection limit cleared/.test(l.msg));
      assert.equal(cleared.length, 1);
      assert.equal(cleared[0]?.refused, answers.length);
      assert.equal(
        (
          await fetch(`${server.url}/v2/ping`, {
            headers: { 'client-id': '3381af92-2b9e-11e3-b191-71861300734c', 'x-project-id': 'p' },
          })
        ).status,
        204,
      );
      assert.equal(lines.filter((l) => l.level >= 40).length, 1, 'still one warning');
    } finally {
      for (const socket of held) socket.destroy();
      await server.close();
    }
  });

  it('with no max_connections, a low `ulimit -n` gives a bound below it: clients are refused politely, not with EMFILE', {
    skip: openFilesSoftLimit() === null ? 'reads /proc/self/limits (Linux only)' : false,
    timeout: 120_000,
  }, async () => {
    const data = join(dir, 'ulimit');
    // Low, yet with room for start-up: Node's module loader reads many files at once, and at 64
    // a start on a busy machine ran out of descriptors loading modules (EMFILE before serving).
    const serve = `ulimit -n ${LOW_LIMIT} && exec node --import tsx src/cli/main.ts serve --port 0 --ws-port 0 --data '${data}'`;
    const child = spawn('bash', ['-c', serve], {
      cwd: ROOT,
      env: { ...process.env, POSTHORN_LOG_LEVEL: 'info', POSTHORN_LOG_REQUESTS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const held: Socket[] = [];
    try {
      const serving = await new Promise<{ url: string; max: number }>((resolve, reject) => {
        const watch = setInterval(() => {
          const line = out.split('\n').find((l) => l.includes('"msg":"posthorn serving"'));
          if (line) {
            clearInterval(watch);
            const parsed = JSON.parse(line) as { url: string; maxConnections: number };
            resolve({ url: parsed.url, max: parsed.maxConnections });
          }
        }, 50);
        child.once('exit', (code) => {
          clearInterval(watch);
          reject(new Error(`posthorn serve exited (${code}) before serving:\n${out}`));
        });
      });
      assert.ok(serving.max >= 1 && serving.max < LOW_LIMIT, `a bound below the limit: ${serving.max}`);
      const port = Number(new URL(serving.url).port);
      for (let i = 0; i < serving.max; i++) held.push(await heldConnection(port));
      for (let i = 0; i < 5; i++) assertRefusal(await exchangeUntilClose(port, PING));
      const warnings = out.split('\n').filter((l) => l.includes('"level":40') || l.includes('"level":50'));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0] ?? '', /connection limit reached/);
      assert.doesNotMatch(out, /EMFILE/);
    } catch (error) {
      // What the server said is the evidence of why: keep it with the failure.
      throw new Error(`${(error as Error).message}\n--- posthorn serve said:\n${out}`, { cause: error });
    } finally {
      for (const socket of held) socket.destroy();
      // A child that already exited (it failed to serve) fires no second 'exit': waiting for one
      // would leave the test pending, and hide the failure above it.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
