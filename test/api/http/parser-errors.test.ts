/**
 * Requests Node's HTTP parser or Fastify's own layer refuse never reach a route; they must still
 * answer Zaqar's `{"title","description"}` body with the right status (issue 12, defect 8).
 * Sent over raw sockets, because an HTTP client would not send them.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../../src/api/http/index.js';
import { makeLimits } from '../../../src/core/index.js';
import { QueueService, singleDriverResolver, storeLimits } from '../../../src/service/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';

let app: FastifyInstance;
let port: number;

before(async () => {
  const limits = makeLimits();
  const service = new QueueService({
    resolver: singleDriverResolver(createMemoryDriver({ limits: storeLimits(limits) })),
    limits,
  });
  app = buildHttpApp({ service });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert(address !== null && typeof address === 'object');
  port = address.port;
});

after(() => app.close());

/** Sends raw bytes and reads until the server closes the connection or the answer is complete. */
function raw(bytes: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let body = split < 0 ? '' : text.slice(split + 4);
      const length = /content-length: (\d+)/i.exec(head);
      if (length) body = body.slice(0, Number(length[1]));
      resolve({ status, headers: head, body });
    };
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (split >= 0 && length && text.length - split - 4 >= Number(length[1])) {
        socket.destroy();
        finish();
      }
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', reject);
    socket.write(bytes);
  });
}

function assertZaqarError(answer: { status: number; body: string }, status: number) {
  assert.equal(answer.status, status, `${answer.status} ${answer.body}`);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['description', 'title'], answer.body);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.description, 'string');
}

const HOST = 'Host: localhost\r\n';

test('a malformed request line answers 400 in Zaqar shape', async () => {
  assertZaqarError(await raw('THIS IS NOT HTTP\r\n\r\n'), 400);
});

test('a lowercase method answers 400 in Zaqar shape', async () => {
  assertZaqarError(await raw(`get /v2/queues HTTP/1.1\r\n${HOST}\r\n`), 400);
});

test('a duplicate Content-Length answers 400 in Zaqar shape', async () => {
  assertZaqarError(
    await raw(`POST /v2/queues/q/messages HTTP/1.1\r\n${HOST}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`),
    400,
  );
});

test('headers over 16 KB answer 431 in Zaqar shape', async () => {
  assertZaqarError(await raw(`GET /v2/queues HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431);
});

test('an unknown method on a known path answers in Zaqar shape', async () => {
  const answer = await raw(`BREW /v2/queues HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`);
  assert(answer.status >= 400 && answer.status < 500, `${answer.status}`);
  assertZaqarError(answer, answer.status);
});
