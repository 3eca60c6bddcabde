// The library in a few lines: a durable queue in a folder, a producer, and a consumer that
// claims and deletes. Run it with `npx tsx examples/quickstart.ts`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskDriver } from '../src/entry/posthorn.js';

const dir = mkdtempSync(join(tmpdir(), 'posthorn-example-'));
const store = await createDiskDriver({ dir });

await store.messages.post(
  '',
  'mail',
  [{ body: { to: 'ada@example.org', subject: 'hello' } }, { body: { to: 'alan@example.org', subject: 'hi' } }],
  'producer-1',
);
console.log('queued:', (await store.queues.stats('', 'mail')).total);

const claim = await store.claims.create('', 'mail', { limit: 10, ttl: 60 });
for (const message of claim?.messages ?? []) {
  console.log('delivering', message.body);
  await store.messages.delete('', 'mail', message.id, { claimId: claim?.id });
}
console.log('left:', (await store.queues.stats('', 'mail')).total);
await store.close();
rmSync(dir, { recursive: true, force: true });
