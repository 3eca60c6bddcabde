/**
 * The floor for bench:http (BENCH_STORE=floor): a bare node:http server that answers the bench's
 * requests with bodies of the right shape and stores nothing. Driven by the same load
 * generator on the same machine, it shows what the HTTP round trips alone cost here, so the
 * server's figures can be read against it. Prints the same "posthorn serving" line with its URL.
 */
import { createServer } from 'node:http';

const CLAIM_ID = '51db7067821e727dc24df754';
let next = 0;
const id = () => (next++).toString(16).padStart(24, '0');

const server = createServer((request, response) => {
  request.resume(); // read and drop the body, as any server must before answering
  request.on('end', () => {
    const url = request.url ?? '/';
    if (request.method === 'DELETE') {
      // The fenced bulk delete answers which ids it deleted: all of them, here.
      const ids = new URL(url, 'http://floor').searchParams.get('ids');
      if (ids === null) response.writeHead(204).end();
      else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ deleted: ids.split(','), not_deleted: [] }));
      }
      return;
    }
    const claims = /^\/v2\/queues\/([^/]+)\/claims/.exec(url);
    if (claims) {
      const messages = Array.from({ length: 10 }, () => ({
        href: `/v2/queues/${claims[1]}/messages/${id()}?claim_id=${CLAIM_ID}`,
        ttl: 3600,
        age: 1,
        body: ''.padEnd(256, 'x'),
      }));
      const body = JSON.stringify({ messages });
      response.writeHead(201, {
        'content-type': 'application/json',
        location: `/v2/queues/${claims[1]}/claims/${CLAIM_ID}`,
      });
      response.end(body);
      return;
    }
    const queue = /^\/v2\/queues\/([^/]+)\/messages/.exec(url)?.[1] ?? 'q';
    const resources = Array.from({ length: 10 }, () => `/v2/queues/${queue}/messages/${id()}`);
    response.writeHead(201, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ resources }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, msg: 'posthorn serving (floor)' })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
