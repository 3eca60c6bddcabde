import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TestApi, testApi } from './helpers.js';

let api: TestApi;
let port: number;

before(async () => {
  api = testApi();
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const address = api.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  port = address.port;
});

after(() => api.close());

/** Sends raw bytes on a new connection and returns all the server wrote before closing it. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.end(bytes);
  });
}

/** The status and the JSON body of a raw answer. */
function parse(answer: string): { status: number; body: unknown } {
  const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(answer);
  assert.ok(match, `an HTTP answer, got ${JSON.stringify(answer.slice(0, 200))}`);
  assert.match(match[2] ?? '', /content-type: application\/json/i);
  return { status: Number(match[1]), body: JSON.parse(match[3] ?? '') };
}

const ZAQAR_HEADERS = 'Client-ID: 3381af92-2b9e-11e3-b191-71861300734c\r\nX-Project-ID: p\r\n';

describe("http: what Node's parser refuses is answered in Zaqar's error shape", () => {
  const cases: [string, string, number][] = [
    ['a malformed request line', 'GET\r\n\r\n', 400],
    ['a lowercase method', `get /v2/queues HTTP/1.1\r\nHost: x\r\n${ZAQAR_HEADERS}\r\n`, 400],
    [
      'a duplicate Content-Length',
      `POST /v2/queues/q/messages HTTP/1.1\r\nHost: x\r\n${ZAQAR_HEADERS}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      400,
    ],
    [
      'headers over 16 KB',
      `GET /v2/queues HTTP/1.1\r\nHost: x\r\n${ZAQAR_HEADERS}X-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
      431,
    ],
  ];
  for (const [what, bytes, status] of cases) {
    it(`${what}: ${status} with {"title","description"}`, async () => {
      const answer = parse(await exchange(bytes));
      assert.equal(answer.status, status);
      const body = answer.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['description', 'title']);
      assert.equal(typeof body.title, 'string');
      assert.equal(typeof body.description, 'string');
    });
  }

  it('refuses nothing well-formed, and nothing was made by the refused requests', async () => {
    const listing = parse(
      (await exchange(`GET /v2/queues HTTP/1.1\r\nHost: x\r\n${ZAQAR_HEADERS}Connection: close\r\n\r\n`)).replace(
        /\r\nTransfer-Encoding: chunked[\s\S]*$/i,
        '',
      ),
    );
    assert.equal(listing.status, 200);
    assert.deepEqual((listing.body as { queues: unknown[] }).queues, []);
  });
});
