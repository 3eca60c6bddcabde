// Run with plain node in a project that installed the packed tarball (scripts/check-package.mjs).
// The README's library examples, as a user runs them: the embedded store, the seeds' facades, the
// Multispool and the delivery Spool. Works without fastify, ioredis and pg installed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDiskDriver,
  createMemoryDriver,
  DiskStorage,
  driverQueue,
  InvalidArgumentError,
  jsonMetadata,
  MessageQueue,
  Multispool,
  QueueNotFoundError,
  Spool,
  textData,
  Worker,
} from 'posthorn';

const root = mkdtempSync(join(tmpdir(), 'posthorn-smoke-'));
try {
  // The library in five lines.
  const store = await createDiskDriver({ dir: join(root, 'mail-queue') });
  await store.messages.post('', 'outbox', [{ body: { to: 'ada@example.org' } }], 'producer-1');
  const claim = await store.claims.create('', 'outbox', { limit: 10, ttl: 60 });
  assert.deepEqual(
    claim?.messages.map((m) => m.body),
    [{ to: 'ada@example.org' }],
  );
  for (const m of claim?.messages ?? []) await store.messages.delete('', 'outbox', m.id, { claimId: claim?.id });
  assert.equal((await store.queues.stats('', 'outbox')).total, 0);
  await assert.rejects(store.queues.stats('', 'nowhere'), QueueNotFoundError);
  await assert.rejects(store.messages.post('', 'outbox', [{ body: 1, ttl: -1 }], 'p'), InvalidArgumentError);
  await store.close();

  // Workers: each job completed once through the fenced finish, then the worker closes.
  const jobs = await createDiskDriver({ dir: join(root, 'jobs') });
  await jobs.messages.post('', 'outbox', [{ body: 1 }, { body: 2 }, { body: 3 }], 'producer-1');
  const handled = [];
  const worker = new Worker(driverQueue(jobs, '', 'outbox'), (job) => handled.push(job.body), { concurrency: 2 });
  await new Promise((resolve) => worker.on('drained', resolve));
  await worker.close();
  assert.deepEqual(handled.sort(), [1, 2, 3]);
  assert.equal((await jobs.queues.stats('', 'outbox')).total, 0);
  await jobs.close();

  // unidist's MessageQueue on a durable store: what was added is there after a reopen.
  const events = join(root, 'events');
  let driver = await createDiskDriver({ dir: events });
  let mq = new MessageQueue({ driver, maxCount: 1000, maxAgeSeconds: 3600 });
  await mq.addMessage('signups', { user: 'ada' });
  await mq.addMessage('signups', { user: 'alan' });
  await driver.close();
  driver = await createDiskDriver({ dir: events });
  mq = new MessageQueue({ driver, maxCount: 1000, maxAgeSeconds: 3600 });
  assert.deepEqual(await mq.getOldest('signups'), { user: 'ada' });
  assert.equal(await mq.getMessageCount('signups'), 1);
  await driver.close();
  const memory = new MessageQueue({ driver: createMemoryDriver() });
  await memory.addMessage('q', 'x');
  assert.equal(await memory.getMessageCount('q'), 1);

  // slimta's DiskStorage.
  const storage = new DiskStorage(join(root, 'relay/env'), join(root, 'relay/meta'), join(root, 'relay/tmp'));
  const id = await storage.write(
    { sender: 'a@example.org', recipients: ['b@example.org'], headers: [], body: Buffer.from('Hi') },
    Date.now() / 1000,
  );
  const [envelope, attempts] = await storage.get(id);
  assert.equal(envelope.body.toString(), 'Hi');
  assert.equal(attempts, 0);
  await storage.remove(id);

  // A Multispool shared by a producer and a worker.
  const thumbnails = {
    queues: ['todo', 'done'],
    metadata: jsonMetadata({ version: 1, read: { 1: (v) => v } }),
    data: textData,
  };
  const spool = await Multispool.create(join(root, 'thumbs'), thumbnails);
  await spool.enqueue('todo', { size: 256 }, '/photos/1.jpg');
  const shared = await Multispool.load(join(root, 'thumbs'), thumbnails);
  const seen = [];
  const reader = shared.reader('todo');
  await reader.iterAvailable(async (meta, photo) => {
    seen.push([meta.size, await photo.read()]);
    return [{ save: [meta, 'done'] }, null];
  });
  assert.deepEqual(seen, [[256, '/photos/1.jpg']]);
  assert.equal((await shared.list('done')).length, 1);

  // The delivery Spool with a delivery function of our own: a recipient that accepted is not sent again.
  const tries = new Map();
  const mail = await Spool.create({
    dir: join(root, 'mail-spool'),
    deliver: async ({ envelope }) =>
      new Map(
        envelope.recipients.map((r) => {
          tries.set(r, (tries.get(r) ?? 0) + 1);
          return [r, r.startsWith('bob') && tries.get(r) === 1 ? { status: 'try-later', reason: 'busy' } : 'delivered'];
        }),
      ),
    retryIntervals: [10],
  });
  const done = new Promise((resolve) => {
    (async () => {
      for await (const event of mail.events()) if (event.type === 'delivered') resolve(event);
    })();
  });
  await mail.add({
    sender: 'reports@example.org',
    recipients: ['ada@example.org', 'bob@example.org'],
    headers: [['Subject', 'Your weekly report']],
    body: 'Hello,\r\nyour report is ready.\r\n',
  });
  // The spool's timers do not keep a process alive (its owner does); this one waits for it.
  const alive = setInterval(() => {}, 1000);
  await done;
  clearInterval(alive);
  assert.deepEqual(Object.fromEntries(tries), { 'ada@example.org': 1, 'bob@example.org': 2 });
  await mail.close({ timeout: 5000 });
  console.log('embedded: ok');
} finally {
  rmSync(root, { recursive: true, force: true });
}
