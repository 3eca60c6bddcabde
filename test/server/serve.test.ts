import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, startServeProcess } from '../interop/serve-process.js';
import { jsonCaller, zaqarHeaders } from './serve-client.js';

const HEADERS = zaqarHeaders('serve-test');
const call = jsonCaller(HEADERS);

/** How long a server may take to do what the test waits for, on a busy machine. */
const DEADLINE_MS = 60_000;

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * True once the server's end of the connection from `clientPort` to `serverPort` on 127.0.0.1
 * has an empty receive queue (/proc/net/tcp): the server has read what was sent, and Node parses
 * what it reads in the same callback, so the request has begun.
 */
function serverHasRead(serverPort: number, clientPort: number): boolean {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    if (local === `0100007F:${hex(serverPort)}` && remote === `0100007F:${hex(clientPort)}`) {
      return Number.parseInt(queues?.split(':')[1] ?? '1', 16) === 0;
    }
  }
  return false;
}

/** True when a new TCP connection to the port is refused. */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('server: posthorn serve as a process', { timeout: 300_000 }, () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-serve-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('on SIGTERM stops accepting, finishes the request in flight, closes the store, and exits 0', async () => {
    const data = dataDir();
    const server = await startServeProcess(['--data', data]);
    let finished: Promise<string> | undefined;
    try {
      const port = Number(new URL(server.url).port);
      const body = JSON.stringify({ messages: [{ body: 'sent during shutdown', ttl: 300 }] });
      const socket = connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      finished = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('close', () => resolve(text));
      });
      socket.write(
        `POST /v2/queues/inflight/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nClient-ID: ${HEADERS['client-id']}\r\nX-Project-ID: serve-test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      // SIGTERM once the server has read the head: the request is in flight.
      await until(() => serverHasRead(port, socket.localPort as number), 'the server to read the request head');
      server.child.kill('SIGTERM');
      // It stops accepting while the request is still in flight (its body is not all sent yet).
      await until(() => refuses(port), 'new connections to be refused once stopping');
      socket.write(body.slice(10));
      const answer = await finished;
      assert.match(answer, /^HTTP\/1\.1 201/, answer);
      assert.equal(await server.exit(), 0, server.output());
      assert.match(server.output(), /posthorn stopped/);
    } finally {
      await server.stop('SIGKILL');
    }
    const again = await startServeProcess(['--data', data]);
    try {
      const listed = await call(again.url, 'GET', '/v2/queues/inflight/messages?echo=true');
      assert.deepEqual(
        listed.json.messages.map((m: { body: unknown }) => m.body),
        ['sent during shutdown'],
        'the message acknowledged during shutdown is there after a restart',
      );
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('keeps every acknowledged message when killed with SIGKILL', async () => {
    const data = dataDir();
    const server = await startServeProcess(['--data', data]);
    const acknowledged: string[] = [];
    try {
      await Promise.all(
        Array.from({ length: 4 }, async (_, worker) => {
          for (let i = 0; i < 10; i++) {
            const answer = await call(server.url, 'POST', '/v2/queues/durable/messages', {
              messages: [{ body: `${worker}-${i}-a` }, { body: `${worker}-${i}-b` }],
            });
            assert.equal(answer.status, 201);
            acknowledged.push(`${worker}-${i}-a`, `${worker}-${i}-b`);
          }
        }),
      );
    } finally {
      assert.equal(await server.stop('SIGKILL'), null, 'killed, not exited');
    }
    const again = await startServeProcess(['--data', data]);
    try {
      const seen: string[] = [];
      let path = '/v2/queues/durable/messages?echo=true&limit=20';
      for (;;) {
        const page = await call(again.url, 'GET', path);
        if (page.json.messages.length === 0) break;
        seen.push(...page.json.messages.map((m: { body: string }) => m.body));
        path = page.json.links[0].href;
      }
      assert.deepEqual([...seen].sort(), [...acknowledged].sort(), 'each acknowledged message, exactly once');
    } finally {
      await again.stop();
    }
  });

  it('a second server on the same data folder refuses to start and says why', async () => {
    const data = dataDir();
    const first = await startServeProcess(['--data', data]);
    try {
      const second = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data', data],
        { cwd: ROOT, encoding: 'utf8', timeout: DEADLINE_MS },
      );
      assert.equal(second.status, 1);
      assert.match(second.stderr, /^posthorn serve: .*locked by process \d+/m);
      assert.doesNotMatch(second.stderr, /\n\s+at /, 'one line, no stack');
      assert.equal((await call(first.url, 'GET', '/v2/queues')).status, 200, 'the first one is unharmed');
    } finally {
      await first.stop();
    }
  });
});
