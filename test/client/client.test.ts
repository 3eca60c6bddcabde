import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ClaimNotFoundError,
  createClient,
  ForbiddenError,
  IdempotencyKeyReusedError,
  InvalidArgumentError,
  MessageNotClaimedError,
  MessageNotFoundError,
  NotFoundError,
  type PosthornClient,
  QueueNotFoundError,
  ResourceConflictError,
  ResourceNotFoundError,
  type ServerAnswerFields,
  SubscriptionNotFoundError,
  serverAnswerOf,
  type WorkQueue,
} from '../../src/entry/client.js';
import { ADMIN_TOKEN, removeFolder, serveForClient, type TestServer } from './serve.js';

/** Asserts that `call` rejects with an instance of `kind`, and answers that error. */
async function rejectsWith<E>(call: Promise<unknown>, kind: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${(error as Error)?.constructor?.name}: ${error}`);
    return error;
  }
  assert.fail(`expected ${kind.name}, but the call succeeded`);
}

describe('client: against a real posthorn serve', { timeout: 180_000 }, () => {
  let server: TestServer;
  let client: PosthornClient;

  before(async () => {
    server = await serveForClient();
    client = createClient({ url: server.url, project: 'client-test', wsUrl: server.wsUrl });
  });
  after(async () => {
    await client?.close();
    await server?.process.stop();
    if (server) removeFolder(server.dir);
  });

  it('queues: create, list (pages and iterator), metadata get/set/patch, stats, delete', async () => {
    assert.equal(await client.createQueue('qa', { owner: 'tests' }), true);
    assert.equal(await client.createQueue('qa'), false, 'a second PUT leaves it (204)');
    await client.createQueue('qb');
    await client.createQueue('qc');
    const first = await client.listQueues({ limit: 2 });
    assert.deepEqual(
      first.queues.map((q) => q.name),
      ['qa', 'qb'],
    );
    assert.equal(first.marker, 'qb');
    const all: string[] = [];
    for await (const q of client.queues({ limit: 1 })) all.push(q.name);
    assert.deepEqual(all, ['qa', 'qb', 'qc']);
    const detailed = await client.listQueues({ detailed: true, name: 'qa' });
    assert.equal(detailed.queues[0]?.metadata?.owner, 'tests');

    const qa = client.queue('qa');
    assert.equal((await qa.metadata()).owner, 'tests');
    const set = await qa.setMetadata({ color: 'blue', _max_claim_count: 3 });
    assert.equal(set.color, 'blue');
    assert.equal(set.owner, 'tests', 'a set keeps the other keys');
    const patched = await qa.patchMetadata([{ op: 'remove', path: '/metadata/color' }]);
    assert.equal(patched.color, undefined);
    assert.equal((await qa.metadata())._max_claim_count, 3);
    assert.deepEqual(await qa.stats(), { claimed: 0, free: 0, total: 0 });

    await client.deleteQueue('qc');
    await rejectsWith(client.queue('qc').metadata(), QueueNotFoundError);
  });

  it('messages: post, list with markers, iterate, get, bulk get, delete, bulk delete, pop, stats', async () => {
    const q = client.queue('messages');
    const ids = await q.post([1, 2, 3, 4, 5].map((n) => ({ body: { n }, ttl: 600 })));
    assert.equal(ids.length, 5);
    assert.equal(new Set(ids).size, 5);

    const page = await q.list({ echo: true, limit: 2 });
    assert.deepEqual(
      page.messages.map((m) => m.body),
      [{ n: 1 }, { n: 2 }],
    );
    assert.notEqual(page.marker, null);
    const next = await q.list({ echo: true, limit: 2, marker: page.marker ?? '' });
    assert.deepEqual(
      next.messages.map((m) => m.id),
      ids.slice(2, 4),
    );
    const walked: string[] = [];
    for await (const m of q.messages({ echo: true, limit: 2 })) walked.push(m.id);
    assert.deepEqual(walked, ids, 'the iterator pages through every message once, in order');
    assert.deepEqual(
      (await q.list({ limit: 10 })).messages,
      [],
      'without echo a client does not see its own messages (Zaqar)',
    );

    const one = await q.get(ids[0] as string);
    assert.deepEqual(one.body, { n: 1 });
    assert.equal(one.ttl, 600);
    assert.equal(one.claimId, null);
    const many = await q.getMany([ids[1] as string, ids[2] as string]);
    assert.deepEqual(
      many.map((m) => m.body).sort((a, b) => (a as { n: number }).n - (b as { n: number }).n),
      [{ n: 2 }, { n: 3 }],
    );

    await q.deleteMessage(ids[0] as string);
    await rejectsWith(q.get(ids[0] as string), MessageNotFoundError);
    await q.deleteMany([ids[1] as string, ids[2] as string]);
    assert.deepEqual(await q.getMany([ids[1] as string, ids[2] as string]), []);
    assert.equal((await q.stats()).total, 2);

    const popped = await q.pop(1);
    assert.equal(popped.length, 1);
    assert.equal(popped[0]?.id, ids[3]);
    assert.deepEqual(popped[0]?.body, { n: 4 });
    const stats = await q.stats();
    assert.equal(stats.total, 1);
    assert.equal(stats.free, 1);
    assert.match(stats.oldest?.href ?? '', new RegExp(`${ids[4]}$`));
  });

  it('claims: create, get, renew, finish, release; a finish under a lost lease changes nothing', async () => {
    const q = client.queue('claims');
    assert.equal(await q.claim({ ttl: 60, grace: 60, limit: 5 }), null, 'nothing to claim: null (204)');
    const ids = await q.post([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    const claim = await q.claim({ ttl: 60, grace: 60, limit: 2 });
    assert.ok(claim);
    assert.deepEqual(
      claim.messages.map((m) => m.id),
      ids.slice(0, 2),
    );
    assert.ok(claim.messages.every((m) => m.claimId === claim.id));
    const info = await q.getClaim(claim.id);
    assert.equal(info.ttl, 60);
    assert.deepEqual(
      info.messages.map((m) => m.id),
      ids.slice(0, 2),
    );
    assert.equal(await q.renew(claim.id, { ttl: 120, grace: 60 }), true);
    assert.equal((await q.getClaim(claim.id)).ttl, 120);

    assert.equal(await q.finish(ids[0] as string, claim.id), 'deleted');
    await rejectsWith(q.get(ids[0] as string), MessageNotFoundError);
    await q.release(claim.id);
    assert.equal(await q.renew(claim.id, { ttl: 60, grace: 60 }), false, 'a released lease cannot be renewed');
    await q.release(claim.id); // no error when gone
    await rejectsWith(q.getClaim(claim.id), ClaimNotFoundError);

    // The released message is free again; another consumer takes it: the first lease is lost.
    const second = await q.claim({ ttl: 60, grace: 60, limit: 5 });
    assert.ok(second);
    assert.deepEqual(
      second.messages.map((m) => m.id),
      ids.slice(1),
    );
    assert.equal(await q.finish(ids[1] as string, claim.id), 'lease-lost');
    assert.equal((await q.get(ids[1] as string)).claimId, second.id, 'the lost finish deleted nothing');
    // A delete naming a claim of a free message is refused, typed.
    await q.release(second.id);
    const refused = await rejectsWith(q.deleteMessage(ids[2] as string, second.id), MessageNotClaimedError);
    assert.equal(serverAnswerOf(refused)?.status, 400);
    assert.equal(await q.finish(ids[2] as string, second.id), 'lease-lost');
    assert.equal((await q.stats()).total, 2);
  });

  it('finishMany deletes in one request what the lease still holds, lease-lost for the rest', async () => {
    const q = client.queue('finish-many');
    const ids = await q.post([{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4 }]);
    const first = await q.claim({ ttl: 60, grace: 60, limit: 3 });
    assert.ok(first);
    await q.release(first.id);
    const other = await q.claim({ ttl: 60, grace: 60, limit: 1 });
    assert.deepEqual(
      other?.messages.map((m) => m.id),
      ids.slice(0, 1),
    );
    const lease = await q.claim({ ttl: 60, grace: 60, limit: 2 });
    assert.deepEqual(
      lease?.messages.map((m) => m.id),
      ids.slice(1, 3),
    );
    const asked = [ids[0], ids[1], ids[2], ids[3]] as string[];
    assert.deepEqual(await q.finishMany(asked, lease?.id as string), [
      'lease-lost',
      'deleted',
      'deleted',
      'lease-lost',
    ]);
    assert.equal((await q.get(ids[0] as string)).claimId, other?.id, "another consumer's message stays");
    assert.equal((await q.get(ids[3] as string)).claimId, null, 'the free one stays');
    assert.deepEqual(await q.finishMany(asked, lease?.id as string), [
      'lease-lost',
      'lease-lost',
      'lease-lost',
      'lease-lost',
    ]);
  });

  it('a queue handle is a WorkQueue: metadata and sibling', async () => {
    const work: WorkQueue = client.queue('work');
    await client.queue('work').create({ _dead_letter_queue: 'work-dlq' });
    assert.equal((await work.metadata())._dead_letter_queue, 'work-dlq');
    const dlq = work.sibling('work-dlq');
    assert.equal(dlq.name, 'work-dlq');
    const [id] = await dlq.post([{ body: 'dead' }]);
    assert.equal((await client.queue('work-dlq').get(id as string)).body, 'dead');
  });

  it('subscriptions: create, list, get, update, delete', async () => {
    const q = client.queue('subs');
    await q.create();
    const id = await q.subscribe({ subscriber: 'http://127.0.0.1:9/hook', ttl: 600, options: { k: 'v' } });
    const listed = await q.listSubscriptions();
    assert.deepEqual(
      listed.subscriptions.map((s) => s.id),
      [id],
    );
    const got = await q.getSubscription(id);
    assert.equal(got.subscriber, 'http://127.0.0.1:9/hook');
    assert.equal(got.source, 'subs');
    assert.equal(got.ttl, 600);
    assert.deepEqual(got.options, { k: 'v' });
    await q.updateSubscription(id, { ttl: 1200, options: { k: 'w' } });
    const changed = await q.getSubscription(id);
    assert.equal(changed.ttl, 1200);
    assert.deepEqual(changed.options, { k: 'w' });
    await q.unsubscribe(id);
    await rejectsWith(q.getSubscription(id), SubscriptionNotFoundError);
  });

  it('topics: create, post, list messages, stats, list topics, metadata, delete', async () => {
    const t = client.topic('news');
    assert.equal(await t.create({ about: 'news' }), true);
    const ids = await t.post([{ body: 'first' }, { body: 'second' }]);
    assert.equal(ids.length, 2);
    const page = await t.list({ echo: true });
    assert.deepEqual(
      page.messages.map((m) => m.body),
      ['first', 'second'],
    );
    assert.equal((await t.get(ids[1] as string)).body, 'second');
    assert.equal((await t.stats()).total, 2);
    assert.equal((await t.metadata()).about, 'news');
    const topics = await client.listTopics();
    assert.deepEqual(
      topics.queues.map((q) => q.name),
      ['news'],
    );
    await t.delete();
    assert.deepEqual((await client.listTopics()).queues, []);
  });

  it('a pre-signed URL works without other credentials, for what it signs only', async () => {
    const q = client.queue('shared');
    const [id] = await q.post([{ body: 'signed' }]);
    const signed = await q.share({ methods: ['GET', 'POST'], paths: ['messages'] });
    assert.deepEqual(signed.methods, ['GET', 'POST']);
    assert.deepEqual(signed.paths, ['/v2/queues/shared/messages']);
    const guest = createClient({ url: server.url, auth: { signedUrl: signed } });
    try {
      const guestQueue = guest.queue('shared');
      assert.equal((await guestQueue.get(id as string)).body, 'signed');
      const [posted] = await guestQueue.post([{ body: 'by guest' }]);
      assert.equal((await q.get(posted as string)).body, 'by guest');
      // Stats are not under the signed paths; the server reveals nothing (404).
      const refused = await rejectsWith(guestQueue.stats(), ResourceNotFoundError);
      assert.match(serverAnswerOf(refused)?.description ?? '', /pre-signed URL/);
      await rejectsWith(guestQueue.deleteMessage(id as string), NotFoundError);
    } finally {
      await guest.close();
    }
    assert.equal((await q.get(id as string)).body, 'signed', 'the refused delete deleted nothing');
  });

  it('health and ping: health needs the admin token', async () => {
    assert.equal(await client.ping(), true);
    const refused = await rejectsWith(client.health(), ForbiddenError);
    assert.equal(serverAnswerOf(refused)?.status, 403);
    const admin = createClient({ url: server.url, project: 'client-test', adminToken: ADMIN_TOKEN });
    try {
      const report = await admin.health();
      assert.equal(report.storage_reachable, true);
    } finally {
      await admin.close();
    }
  });

  it('errors are typed and keep the server answer', async () => {
    const missing = await rejectsWith(client.queue('no-such-queue').metadata(), QueueNotFoundError);
    assert.equal(missing.queue, 'no-such-queue');
    assert.equal(missing.project, 'client-test');
    assert.equal(serverAnswerOf(missing)?.status, 404);
    assert.equal(serverAnswerOf(missing)?.title, 'Not found');

    const q = client.queue('errors');
    const bad = await rejectsWith(q.post([{ body: 'x', ttl: -5 }]), InvalidArgumentError);
    const answer = serverAnswerOf(bad);
    assert.equal(answer?.status, 400);
    assert.match(answer?.description ?? '', /TTL/);
    assert.equal(bad.message, answer?.description, "the error says the server's description");
    assert.equal((bad as unknown as ServerAnswerFields).status, 400, 'the status is on the error too');

    await q.create();
    const conflict = await rejectsWith(
      q.patchMetadata([{ op: 'remove', path: '/metadata/absent' }]),
      ResourceConflictError,
    );
    assert.equal(serverAnswerOf(conflict)?.status, 409);
    const [id] = await q.post([{ body: 1 }]);
    const claim = await q.claim({ ttl: 60, grace: 60, limit: 1 });
    assert.ok(claim);
    await rejectsWith(q.getClaim('0123456789abcdef01234567'), ClaimNotFoundError);
    await rejectsWith(q.get('0123456789abcdef01234567'), MessageNotFoundError);
    assert.equal(id, claim.messages[0]?.id);

    const keyed = client.queue('keyed');
    const first = await keyed.post([{ body: 'first' }], { idempotencyKey: 'k-1' });
    assert.deepEqual(
      await keyed.post([{ body: 'first' }], { idempotencyKey: 'k-1' }),
      first,
      'a repeat answers the first ids',
    );
    const reused = await rejectsWith(
      keyed.post([{ body: 'other' }], { idempotencyKey: 'k-1' }),
      IdempotencyKeyReusedError,
    );
    assert.equal(reused.key, 'k-1');
    assert.equal(reused.queue, 'keyed');
    assert.equal(serverAnswerOf(reused)?.status, 422);
    assert.equal((await keyed.stats()).total, 1, 'neither the repeat nor the refused post stored anything');
  });

  it('a WebSocket subscription is an async iterator of the messages posted after it', async () => {
    const q = client.queue('pushed');
    await q.create();
    const subscription = await client.subscribe('pushed', { ttl: 600 });
    assert.notEqual(subscription.id, '');
    await q.post([{ body: { n: 1 } }, { body: { n: 2 } }]);
    await client.queue('pushed').post([{ body: { n: 3 } }]);
    const got: unknown[] = [];
    for await (const message of subscription) {
      assert.equal(message.queueName, 'pushed');
      got.push(message.body);
      if (got.length === 3) break;
    }
    assert.deepEqual(got, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(await subscription.next(), { value: undefined, done: true }, 'leaving the loop ended it');
  });

  it('by default the subscription uses /v2/ws on the HTTP port', async () => {
    const plain = createClient({ url: server.url, project: 'client-test' });
    try {
      const subscription = await plain.subscribe('pushed-default');
      await plain.queue('pushed-default').post([{ body: 'on the http port' }]);
      const first = await subscription.next();
      assert.equal(first.value?.body, 'on the http port');
    } finally {
      await plain.close();
    }
    assert.equal(plain.project, 'client-test');
  });
});
