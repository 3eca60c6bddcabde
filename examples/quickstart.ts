// A first taste of the library: a queue, a producer, and a consumer that claims and deletes.
// Run it with `npm start` (until the server lands) or `npx tsx examples/quickstart.ts`.
import { createMemoryDriver } from '../src/index.js';

const store = createMemoryDriver();
const project = 'demo';

await store.messages.post(
  project,
  'mail',
  [{ body: { to: 'ada@example.org', subject: 'hello' } }, { body: { to: 'alan@example.org', subject: 'hi' } }],
  'producer-1',
);
console.log('queued:', (await store.queues.stats(project, 'mail')).total);

const claim = await store.claims.create(project, 'mail', { limit: 10, ttl: 60 });
for (const message of claim?.messages ?? []) {
  console.log('delivering', message.body);
  await store.messages.delete(project, 'mail', message.id, { claimId: claim?.id });
}
console.log('left:', (await store.queues.stats(project, 'mail')).total);
await store.close();
