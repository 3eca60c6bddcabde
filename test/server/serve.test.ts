import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, startServeProcess } from '../interop/serve-process.js';
import { jsonCaller, zaqarHeaders } from './serve-client.js';

const HEADERS = zaqarHeaders('serve-test');
const call = jsonCaller(HEADERS);

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('server: posthorn serve as a process', { timeout: 120_000 }, () => {
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
      await sleep(300);
      server.child.kill('SIGTERM');
      await sleep(500);
      await assert.rejects(call(server.url, 'GET', '/v2/queues'), 'no new connections once stopping');
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
        { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
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
