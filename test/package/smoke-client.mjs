// Run with plain node in a project that installed the packed tarball without its optional
// dependencies (scripts/check-package.mjs): `posthorn/client` works from dist with what it needs
// alone, here against a stand-in server that answers as Zaqar does.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createClient, QueueNotFoundError } from 'posthorn/client';

const server = createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  if (request.url === '/v2/queues/orders/stats' && request.headers['x-project-id'] === 'smoke') {
    response.end(JSON.stringify({ messages: { claimed: 1, free: 2, total: 3 } }));
    return;
  }
  response.statusCode = 404;
  response.end(JSON.stringify({ title: 'Not found', description: 'queue "gone" does not exist in project "smoke"' }));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const client = createClient({ url: `http://127.0.0.1:${server.address().port}`, project: 'smoke' });
try {
  assert.deepEqual(await client.queue('orders').stats(), { claimed: 1, free: 2, total: 3 });
  await assert.rejects(client.queue('gone').metadata(), QueueNotFoundError);
  console.log('client: ok');
} finally {
  await client.close();
  server.close();
}
