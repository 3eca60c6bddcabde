import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceConflictError, ResourceNotFoundError, StorageUnavailableError } from '../../src/core/index.js';
import type { QueueService } from '../../src/service/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';
import { CLIENT, POOL_LIMITS, poolSetup, realClock } from './support.js';

/**
 * Moves on in-memory pools with two "servers" (two catalogs over one management store and the same
 * pools, each with its own route cache), in real time with a short cache and settle time. The
 * process-level test (moves.test.ts) does the same with real servers over Redis and PostgreSQL.
 */
function twoServers(cacheSeconds = 0.1, settleSeconds = 0.1) {
  const clock = realClock;
  const management = createMemoryDriver({ clock, limits: POOL_LIMITS });
  const stores = new Map([
    ['memory://', createMemoryDriver({ clock, limits: POOL_LIMITS })],
    ['memory:', createMemoryDriver({ clock, limits: POOL_LIMITS })],
  ]);
  const openDriver = async (uri: string) => stores.get(uri) as DataDriver;
  const common = { clock, management, embedded: null, openDriver, cacheSeconds, settleSeconds } as const;
  const a = poolSetup({ ...common, random: () => 0 });
  const b = poolSetup(common);
  return { a, b, source: stores.get('memory://') as DataDriver, target: stores.get('memory:') as DataDriver };
}

async function registerPools(setup: ReturnType<typeof twoServers>) {
  await setup.a.admin.createPool('src', { uri: 'memory://', weight: 1 });
  await setup.a.admin.createPool('dst', { uri: 'memory:', weight: 0 });
}

/** Posts numbered messages, one per call, through the servers in turn; records what was acknowledged. */
async function produce(servers: QueueService[], queue: string, from: number, count: number, acked: Set<number>) {
  for (let i = from; i < from + count; i++) {
    const server = servers[i % servers.length] as QueueService;
    await server.queues.post('p', queue, CLIENT, { messages: [{ body: { n: i }, ttl: 3600 }] });
    acked.add(i);
  }
}

/** Claims and deletes until told to stop and the queue is empty; counts every delivery. */
async function consume(server: QueueService, queue: string, seen: Map<number, number>, stop: () => boolean) {
  for (;;) {
    const claim = await server.queues.claim('p', queue, { ttl: 60, grace: 60 }, 10);
    if (claim === null) {
      if (stop()) return;
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    for (const m of claim.messages) {
      const n = (m.body as { n: number }).n;
      seen.set(n, (seen.get(n) ?? 0) + 1);
      await server.queues.deleteMessage('p', queue, m.id, claim.id);
    }
  }
}

function exactlyOnce(acked: Set<number>, seen: Map<number, number>) {
  const twice = [...seen].filter(([, times]) => times > 1).map(([n]) => n);
  const lost = [...acked].filter((n) => !seen.has(n));
  assert.deepEqual(twice, [], 'delivered twice');
  assert.deepEqual(lost, [], 'acknowledged but never delivered');
}

describe('pool: moving a live queue between pools', { timeout: 60_000 }, () => {
  it('moves while producers post and consumers claim through two servers: nothing lost, nothing twice, FIFO kept', async (t) => {
    const setup = twoServers();
    await registerPools(setup);
    const { a, b, source, target } = setup;
    const acked = new Set<number>();
    await produce([a.service], 'live', 0, 300, acked); // a backlog
    const seen = new Map<number, number>();
    let producing = true;
    const producer = produce([a.service, b.service], 'live', 300, 400, acked).finally(() => {
      producing = false;
    });
    const consumers = [a.service, b.service].map((s) => consume(s, 'live', seen, () => !producing));
    const progress: string[] = [];
    const record = await a.mover.move('p', 'live', 'dst', { onProgress: (m) => progress.push(m.step) });
    await producer;
    await Promise.all(consumers);
    assert.equal(record.status, 'done', record.error ?? '');
    assert.ok(progress.includes('copying') && progress.includes('draining') && progress.includes('switched'));
    exactlyOnce(acked, seen);
    assert.deepEqual(await a.catalog.store.getRoute('p', 'live'), { pool: 'dst' });
    assert.equal(await source.queues.exists('p', 'live'), false, 'the source copy is deleted');
    assert.equal(await target.queues.exists('p', 'live'), true);

    // Order: a consumer claiming during the move gets the backlog oldest first, except that while a
    // batch of copies is on its way to the target it gets the messages after that batch (claims
    // take the target's copies, older, before the source). The target is made slow so that the
    // consumer outpaces the mover. Every step is numbered, so the rule is checked exactly: a
    // message received while an older one is still due must have that older one in a batch whose
    // post to the target ended after the claim began.
    const backlog = new Set<number>();
    await produce([a.service], 'fifo', 0, 600, backlog);
    let step = 0;
    const batches: { numbers: number[]; landed: number }[] = [];
    const realPost = target.messages.post;
    (target.messages as { post: DataDriver['messages']['post'] }).post = async (...args) => {
      await new Promise((r) => setTimeout(r, 20));
      const ids = await realPost.apply(target.messages, args);
      batches.push({ numbers: args[2].map((d) => (d.body as { n: number }).n), landed: step++ });
      return ids;
    };
    const claims: { began: number; numbers: number[] }[] = [];
    let moved = false;
    const reader = (async () => {
      for (;;) {
        const began = step++;
        const claim = await b.service.queues.claim('p', 'fifo', {}, 5);
        if (claim === null) {
          if (moved) return;
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        claims.push({ began, numbers: claim.messages.map((m) => (m.body as { n: number }).n) });
        for (const m of claim.messages) await b.service.queues.deleteMessage('p', 'fifo', m.id, claim.id);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await a.mover.move('p', 'fifo', 'dst');
    moved = true;
    await reader;
    const received = claims.flatMap((c) => c.numbers);
    assert.deepEqual(
      [...received].sort((x, y) => x - y),
      Array.from({ length: 600 }, (_, i) => i),
    );
    const landedAt = new Map<number, number>();
    for (const batch of batches) for (const n of batch.numbers) landedAt.set(n, batch.landed);
    const due = new Set(received);
    const outOfTurn: string[] = [];
    let worst = 0;
    for (const claim of claims) {
      for (const n of claim.numbers) {
        due.delete(n);
        for (const older of due) {
          if (older >= n) continue;
          worst = Math.max(worst, n - older);
          const landed = landedAt.get(older);
          if (landed === undefined || landed < claim.began)
            outOfTurn.push(
              `${n} before ${older} (${landed === undefined ? 'never copied' : `copied at step ${landed}, claim at ${claim.began}`})`,
            );
        }
      }
    }
    assert.deepEqual(outOfTurn.slice(0, 5), [], 'a message came before an older one that was not on its way');
    t.diagnostic(`${batches.length} batches; the latest message came ${worst} places early`);
    (target.messages as { post: DataDriver['messages']['post'] }).post = realPost;
  });

  it('keeps claims in flight valid, copies delayed messages with their delay, subscriptions and metadata', async () => {
    const setup = twoServers();
    await registerPools(setup);
    const { a, b } = setup;
    await a.service.queues.create('p', 'q', { owner: 'ada', _default_message_ttl: 600 });
    await a.service.queues.post('p', 'q', CLIENT, {
      messages: [{ body: 'claimed-before' }, { body: 'free' }, { body: 'later', delay: 60 }],
    });
    const sub = await a.service.queues.subscribe('p', 'q', { subscriber: 'http://example.org/hook', ttl: 3600 });
    await a.service.queues.confirmSubscription('p', 'q', sub.id, { confirmed: true });
    const held = await a.service.queues.claim('p', 'q', { ttl: 120, grace: 60 }, 1);
    assert.equal(held?.messages[0]?.body, 'claimed-before');
    const before = await a.service.queues.listMessages('p', 'q', CLIENT, { echo: true, includeDelayed: true });
    const original = before.messages.find((m) => m.body === 'later');
    assert.ok(original);
    const moveStart = Date.now();
    let copying = () => {};
    const copyingBegan = new Promise<void>((resolve) => {
      copying = resolve;
    });
    const moving = a.mover.move('p', 'q', 'dst', { onProgress: (m) => m.step === 'copying' && copying() });
    // While it moves (it waits for the held claim), the claim keeps working through the other
    // server once that server follows the moving route.
    await copyingBegan;
    const deadline = Date.now() + 30_000; // a deadline for a busy machine
    while ((await b.catalog.route('p', 'q'))?.to !== 'dst') {
      assert.ok(Date.now() < deadline, 'the other server did not follow the moving route');
      await new Promise((r) => setTimeout(r, 10));
    }
    const status = await b.mover.status('p', 'q');
    assert.equal(status?.status, 'running');
    assert.equal(status?.active, true);
    await assert.rejects(
      b.service.queues.subscribe('p', 'q', { subscriber: 'http://example.org/other' }),
      StorageUnavailableError,
    );
    await b.service.queues.updateClaim('p', 'q', held.id, { ttl: 120 });
    assert.equal((await b.service.queues.getClaim('p', 'q', held.id)).messages.length, 1);
    await b.service.queues.deleteMessage('p', 'q', held.messages[0]?.id as string, held.id);
    const done = await moving;
    const moveEnd = Date.now();
    assert.equal(done.status, 'done', done.error ?? '');
    assert.equal(done.copied, 2);
    assert.deepEqual(await a.catalog.route('p', 'q'), { pool: 'dst' });
    const metadata = await b.service.queues.get('p', 'q', false);
    assert.deepEqual(metadata, { owner: 'ada', _default_message_ttl: 600 });
    const subs = await b.service.queues.listSubscriptions('p', 'q');
    assert.equal(subs.subscriptions.length, 1);
    assert.equal(subs.subscriptions[0]?.subscriber, 'http://example.org/hook');
    assert.equal(subs.subscriptions[0]?.confirmed, true);
    const listed = await b.service.queues.listMessages('p', 'q', CLIENT, { echo: true, includeDelayed: true });
    const later = listed.messages.find((m) => m.body === 'later');
    assert.ok(later, 'the delayed message was copied');
    // The copy keeps the original's remaining delay and lifetime, in whole seconds rounded up when
    // it was copied (some time within the move): never earlier, at most the move plus a second later.
    const slack = moveEnd - moveStart + 1000;
    for (const key of ['visibleAt', 'expiresAt'] as const) {
      assert.ok(
        later[key] >= original[key] && later[key] <= original[key] + slack,
        `${key}: the copy's ${later[key]}, the original's ${original[key]} (the move took ${moveEnd - moveStart} ms)`,
      );
    }
    const claim = await b.service.queues.claim('p', 'q', {});
    assert.deepEqual(
      claim?.messages.map((m) => m.body),
      ['free'],
    );
  });

  it('releases claims that outlast claim_wait, so their messages move too', async () => {
    const setup = twoServers();
    await registerPools(setup);
    const { a } = setup;
    await a.service.queues.post('p', 'q', CLIENT, { messages: [{ body: 'held' }] });
    const held = await a.service.queues.claim('p', 'q', { ttl: 3600, grace: 60 }, 1);
    assert.ok(held);
    const done = await a.mover.move('p', 'q', 'dst', { claimWaitSeconds: 0.3 });
    assert.equal(done.status, 'done', done.error ?? '');
    assert.equal(done.releasedClaims, 1);
    await assert.rejects(a.service.queues.getClaim('p', 'q', held.id), /does not exist/);
    const again = await a.service.queues.claim('p', 'q', {});
    assert.deepEqual(
      again?.messages.map((m) => m.body),
      ['held'],
    );
  });

  it('resumes a move that stopped mid-batch without losing or doubling the batch', async () => {
    for (const landed of [true, false]) {
      const setup = twoServers();
      await registerPools(setup);
      const { a, b, target } = setup;
      const acked = new Set<number>();
      await produce([a.service], 'q', 0, 250, acked);
      // The target fails one post: after it landed (the mover dies before deleting the originals)
      // or before (nothing landed).
      const realPost = target.messages.post;
      let failed = false;
      (target.messages as { post: DataDriver['messages']['post'] }).post = async (...args) => {
        if (failed) return realPost.apply(target.messages, args);
        failed = true;
        if (landed) await realPost.apply(target.messages, args);
        throw new StorageUnavailableError('the connection broke');
      };
      const stopped = await a.mover.move('p', 'q', 'dst');
      assert.equal(stopped.status, 'failed');
      assert.ok(stopped.intent, 'the batch in flight is written down');
      const resumed = await b.mover.move('p', 'q', 'dst');
      assert.equal(resumed.status, 'done', resumed.error ?? '');
      assert.equal(resumed.copied, 250);
      const seen = new Map<number, number>();
      await consume(b.service, 'q', seen, () => true);
      exactlyOnce(acked, seen);
    }
  });

  it('refuses a second move elsewhere, an unknown pool and a queue in no pool; a move to where it is is done at once', async () => {
    const setup = twoServers(0.1, 0.5);
    await registerPools(setup);
    await setup.a.admin.createPool('third', { uri: 'memory://', weight: 0 });
    const { a, b } = setup;
    await a.service.queues.post('p', 'q', CLIENT, { messages: [{ body: 1 }] });
    // A consumer's claim keeps the move running (draining waits for it) until it is finished below.
    const held = await a.service.queues.claim('p', 'q', { ttl: 3600, grace: 60 }, 1);
    assert.ok(held);
    await assert.rejects(a.mover.start('p', 'q', 'nowhere'), ResourceNotFoundError);
    await assert.rejects(a.mover.start('p', 'ghost', 'dst'), /does not exist/);
    const same = await a.mover.start('p', 'q', 'src');
    assert.equal(same.status, 'done');
    const started = await a.mover.start('p', 'q', 'dst');
    assert.equal(started.status, 'running');
    await assert.rejects(b.mover.start('p', 'q', 'third'), ResourceConflictError);
    const again = await b.mover.start('p', 'q', 'dst'); // harmless while it runs
    assert.equal(again.status, 'running');
    await assert.rejects(b.admin.deletePool('dst'), ResourceConflictError);
    await b.service.queues.deleteMessage('p', 'q', held.messages[0]?.id as string, held.id);
    for (;;) {
      const status = await b.mover.status('p', 'q');
      if (status?.status !== 'running') {
        assert.equal(status?.status, 'done');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(await b.catalog.route('p', 'q', true), { pool: 'dst' });
  });

  it('ends a move when the queue is deleted meanwhile, leaving nothing behind', async () => {
    const setup = twoServers(0.1, 0.3);
    await registerPools(setup);
    const { a, b, source, target } = setup;
    await produce([a.service], 'q', 0, 50, new Set());
    let copying = () => {};
    const copyingBegan = new Promise<void>((resolve) => {
      copying = resolve;
    });
    const moving = a.mover.move('p', 'q', 'dst', { onProgress: (m) => m.step === 'copying' && copying() });
    // Deleted while it moves: the move has begun copying, and it cannot end before it has waited
    // G (0.4 s) and then copied; the delete is sent at once.
    await copyingBegan;
    await b.service.queues.delete('p', 'q');
    const ended = await moving;
    assert.equal(ended.status, 'cancelled');
    assert.equal(await a.catalog.store.getRoute('p', 'q'), null);
    assert.equal(await source.queues.exists('p', 'q'), false);
    assert.equal(await target.queues.exists('p', 'q'), false);
  });
});
