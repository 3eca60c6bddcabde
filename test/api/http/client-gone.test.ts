/**
 * Issue 12, defect 10: a client that disconnects mid-request (a timeout on its side, a closed
 * tab) was logged at error level. It is normal: one debug line, no warning, no error — and the
 * half-sent post changes nothing.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CLIENT, PROJECT, type TestApi, testApi } from './helpers.js';

interface LogLine {
  level: number;
  msg: string;
}

describe('http: a client that goes away mid-body', () => {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  let api: TestApi;
  let port: number;
  before(async () => {
    api = testApi({ app: { logger: pino({ level: 'debug' }, sink) } });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as AddressInfo).port;
  });
  after(() => api.close());

  it('is logged at debug, once, and its half-sent post writes nothing', async () => {
    assert.equal((await api.call('PUT', '/v2/queues/gone')).status, 201);
    const body = JSON.stringify({ messages: [{ body: 'x'.repeat(2000) }] });
    const half = body.slice(0, body.length / 2);
    const head =
      `POST /v2/queues/gone/messages HTTP/1.1\r\nHost: x\r\nClient-ID: ${CLIENT}\r\nX-Project-ID: ${PROJECT}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const before = lines.length;
    let serverSocketClosed = false;
    api.app.server.once('connection', (socket) => socket.once('close', () => (serverSocketClosed = true)));
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        // The head and half the body, then nothing more: the server is reading the body when
        // the client leaves.
        socket.write(head + half, () => setTimeout(() => socket.destroy(), 100));
      });
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
    // The server learns of the close asynchronously: wait until its side of the socket has closed
    // (the body's 'aborted' error is raised there), then make one more request, whose round trip
    // lets the error handler's line, if any, be written first. 30 s: a deadline for a busy machine.
    const deadline = Date.now() + 30_000;
    while (!serverSocketClosed) {
      if (Date.now() > deadline) throw new Error('the server never closed its side');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await api.call('GET', '/v2/queues/gone/stats')).status, 200);
    const logged = lines.slice(before);
    assert.deepEqual(
      logged.filter((l) => l.level >= 40),
      [],
      'no warning or error for a client that left',
    );
    assert.equal(logged.filter((l) => l.level === 20).length, 1, JSON.stringify(logged));
    const stats = await api.call('GET', '/v2/queues/gone/stats');
    assert.equal(stats.json.messages.total, 0, 'the half-sent post wrote nothing');
  });
});
