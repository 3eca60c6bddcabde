import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLIENT, PROJECT, type TestApi, testApi } from './helpers.js';

/**
 * Over a real socket: a body announced larger than the limit is refused as soon as its headers
 * arrive, before the client has sent (and the server has read) the body.
 */

interface RawAnswer {
  status: number;
  text: string;
}

/** Sends the request head and `partial` bytes of body, then waits for an answer without sending more. */
function sendPartial(port: number, head: string, partial: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    // The client never sends the rest: a server that waits for it never answers. 30 s is a
    // deadline for a busy machine.
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer while the body was still unsent; got ${JSON.stringify(received)}`));
    }, 30_000);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? 0);
      if (received.length >= end + 4 + length) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: Number(received.slice(9, 12)), text: received.slice(end + 4, end + 4 + length) });
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(head + partial);
  });
}

function head(url: string, extra: string): string {
  return `POST ${url} HTTP/1.1\r\nHost: x\r\nClient-ID: ${CLIENT}\r\nX-Project-ID: ${PROJECT}\r\nContent-Type: application/json\r\n${extra}\r\n`;
}

describe('http: body size is checked before the body is read', () => {
  let api: TestApi;
  let port: number;
  before(async () => {
    api = testApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as AddressInfo).port;
  });
  after(() => api.close());

  it('a post announcing more than 256 KiB is refused after its headers', async () => {
    const answer = await sendPartial(
      port,
      head('/v2/queues/big/messages', 'Content-Length: 300000\r\n'),
      '{"messages": [',
    );
    assert.equal(answer.status, 400);
    const json = JSON.parse(answer.text);
    assert.equal(json.title, 'Invalid API request');
    assert.match(json.description, /262144/);
    assert.equal(await api.driver.queues.exists(PROJECT, 'big'), false);
  });

  it("a post announcing more than the queue's _max_messages_post_size is refused after its headers", async () => {
    await api.call('PUT', '/v2/queues/small', { body: { _max_messages_post_size: 1023 } });
    const answer = await sendPartial(port, head('/v2/queues/small/messages', 'Content-Length: 2000\r\n'), '');
    assert.equal(answer.status, 400);
    assert.match(JSON.parse(answer.text).description, /1023/);
    assert.equal((await api.driver.queues.stats(PROJECT, 'small')).total, 0);
  });

  it('queue metadata announcing more than 64 KiB is refused after its headers', async () => {
    const put = head('/v2/queues/meta', 'Content-Length: 70000\r\n').replace('POST', 'PUT');
    const answer = await sendPartial(port, put, '{"a": "');
    assert.equal(answer.status, 400);
    assert.equal(await api.driver.queues.exists(PROJECT, 'meta'), false);
  });

  it('a chunked post (no length announced) is cut off once it passes the limit', async () => {
    const chunk = 'x'.repeat(100_000);
    const body = `{"messages": [{"body": "${chunk}${chunk}${chunk}"}]}`;
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const answer = await sendPartial(
      port,
      head('/v2/queues/chunky/messages', 'Transfer-Encoding: chunked\r\n'),
      chunked,
    );
    assert.equal(answer.status, 400);
    assert.equal(await api.driver.queues.exists(PROJECT, 'chunky'), false);
  });

  it('a chunked post within the limit is read and posted', async () => {
    const body = '{"messages": [{"body": "small"}]}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const answer = await sendPartial(
      port,
      head('/v2/queues/chunky/messages', 'Transfer-Encoding: chunked\r\n'),
      chunked,
    );
    assert.equal(answer.status, 201, answer.text);
    assert.equal((await api.driver.queues.stats(PROJECT, 'chunky')).total, 1);
  });
});
