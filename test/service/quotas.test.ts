import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock, makeLimits, QuotaExceededError, silentLogger } from '../../src/core/index.js';
import {
  bodySize,
  QueueService,
  type QuotaSettings,
  RequestRefusedError,
  readQuotaDocument,
  resolveQuotas,
  singleDriverResolver,
  storeLimits,
} from '../../src/service/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

type StoreKind = 'memory' | 'disk';

async function openDriver(kind: StoreKind, clock: FakeClock, dir?: string): Promise<DataDriver> {
  const limits = storeLimits(makeLimits());
  if (kind === 'memory') return createMemoryDriver({ clock, limits });
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'posthorn-quota-'));
  if (dir === undefined) dirs.push(folder);
  return createDiskDriver({ dir: folder, clock, limits, logger: silentLogger, gcIntervalMs: 0 });
}

async function setup(kind: StoreKind, quotas: QuotaSettings) {
  const clock = new FakeClock();
  const driver = await openDriver(kind, clock);
  // A long refresh: nothing here may depend on when a read happens to be repeated.
  const service = new QueueService({ driver, clock, quotas: { refreshSeconds: 3600, ...quotas } });
  return { clock, driver, service };
}

const messages = (n: number, body: unknown = 'x') => ({
  messages: Array.from({ length: n }, () => ({ body, ttl: 300 })),
});

async function total(service: QueueService, project: string): Promise<number> {
  let sum = 0;
  for (const q of (await service.queues.list(project, { limit: 20 })).queues) {
    sum += (await service.queues.stats(project, q.name)).total;
  }
  return sum;
}

async function refusal(write: Promise<unknown>): Promise<QuotaExceededError> {
  try {
    await write;
  } catch (error) {
    assert.ok(error instanceof QuotaExceededError, `a QuotaExceededError, not ${String(error)}`);
    return error;
  }
  assert.fail('the write was accepted');
}

describe('service: quota documents and layers', () => {
  it('reads whole numbers from 0 and null; refuses anything else naming the key', () => {
    assert.deepEqual(readQuotaDocument({ max_queues: 0, max_bytes: null }), { max_queues: 0, max_bytes: null });
    assert.deepEqual(readQuotaDocument({}), {});
    for (const bad of [[], 'x', null, { max_queues: -1 }, { max_messages: 1.5 }, { max_bytes: '5' }, { other: 1 }]) {
      assert.throws(
        () => readQuotaDocument(bad),
        (error: unknown) => error instanceof RequestRefusedError && error.title === 'Invalid request body',
        JSON.stringify(bad),
      );
    }
  });

  it('later layers win key by key; null is unlimited whatever lies below', () => {
    assert.deepEqual(resolveQuotas([{ max_queues: 5, max_messages: 10 }, { max_messages: 20 }, { max_queues: null }]), {
      max_queues: null,
      max_messages: 20,
      max_bytes: null,
    });
  });
});

for (const kind of ['memory', 'disk'] as const) {
  describe(`service: quotas (${kind} store)`, () => {
    it('a single post over max_messages is refused naming the quota and its limit, and writes nothing', async () => {
      const { service } = await setup(kind, { defaults: { max_messages: 5 } });
      await service.queues.post('p', 'q', CLIENT, messages(4));
      const error = await refusal(service.queues.post('p', 'q', CLIENT, messages(2)));
      assert.equal(error.quota, 'max_messages');
      assert.equal(error.limit, 5);
      assert.equal(
        error.message,
        'Project "p" may hold at most 5 messages (max_messages); it holds 4 and this post adds 2.',
      );
      assert.equal(await total(service, 'p'), 4);
      await service.queues.post('p', 'q', CLIENT, messages(1));
      assert.equal(await total(service, 'p'), 5);
      await service.close();
    });

    it('a batch that would cross a quota writes none of its messages', async () => {
      const { service } = await setup(kind, { defaults: { max_messages: 10 } });
      await service.queues.post('p', 'a', CLIENT, messages(7));
      await refusal(service.queues.post('p', 'b', CLIENT, messages(4)));
      assert.equal(await total(service, 'p'), 7);
      // The refused batch did not create its queue either.
      assert.deepEqual(
        (await service.queues.list('p')).queues.map((q) => q.name),
        ['a'],
      );
      await service.close();
    });

    it('max_queues holds on create, on the lazy create of a post and of a subscribe; existing queues still take posts', async () => {
      const { service } = await setup(kind, { defaults: { max_queues: 2 } });
      assert.equal(await service.queues.create('p', 'one', {}), true);
      await service.queues.post('p', 'two', CLIENT, messages(1));
      const created = await refusal(service.queues.create('p', 'three', {}));
      assert.equal(created.quota, 'max_queues');
      assert.match(created.message, /at most 2 queues \(max_queues\); it holds 2/);
      await refusal(service.queues.post('p', 'three', CLIENT, messages(1)));
      await refusal(service.queues.subscribe('p', 'three', { subscriber: 'http://127.0.0.1:1/x', ttl: 3600 }));
      assert.deepEqual(
        (await service.queues.list('p')).queues.map((q) => q.name),
        ['one', 'two'],
      );
      // Creating an existing queue again is no new queue.
      assert.equal(await service.queues.create('p', 'one', {}), false);
      await service.queues.post('p', 'one', CLIENT, messages(3));
      // Another project has its own count.
      await service.queues.create('other', 'three', {});
      // Deleting a queue frees its place at once.
      await service.queues.delete('p', 'two');
      assert.equal(await service.queues.create('p', 'three', {}), true);
      await service.close();
    });

    it('max_bytes counts the stored bodies', async () => {
      const body = { text: 'y'.repeat(90) };
      const size = bodySize(body);
      const { service } = await setup(kind, { defaults: { max_bytes: size * 3 } });
      await service.queues.post('p', 'q', CLIENT, messages(2, body));
      const error = await refusal(service.queues.post('p', 'q', CLIENT, messages(2, body)));
      assert.equal(error.quota, 'max_bytes');
      assert.equal(error.held, size * 2);
      assert.equal(error.adding, size * 2);
      assert.equal(await total(service, 'p'), 2);
      await service.queues.post('p', 'q', CLIENT, messages(1, body));
      assert.deepEqual((await service.quotas.report('p')).usage, { queues: 1, messages: 3, bytes: size * 3 });
      await service.close();
    });

    it('a delete, a pop or a purge frees quota at once', async () => {
      const { service } = await setup(kind, { defaults: { max_messages: 3 } });
      await service.queues.post('p', 'q', CLIENT, messages(3));
      await refusal(service.queues.post('p', 'q', CLIENT, messages(1)));
      const page = await service.queues.listMessages('p', 'q', CLIENT, { echo: true });
      await service.queues.deleteMessage('p', 'q', page.messages[0]?.id as string);
      await service.queues.post('p', 'q', CLIENT, messages(1));
      await refusal(service.queues.post('p', 'q', CLIENT, messages(1)));
      await service.queues.pop('p', 'q', 2);
      await service.queues.post('p', 'q', CLIENT, messages(2));
      await service.queues.purge('p', 'q', { resource_types: ['messages'] });
      await service.queues.post('p', 'q', CLIENT, messages(3));
      assert.equal(await total(service, 'p'), 3);
      await service.close();
    });

    it("a project's own quotas beat the defaults, key by key", async () => {
      const { service } = await setup(kind, {
        defaults: { max_messages: 2, max_queues: 1 },
        projects: { big: { max_messages: 5 } },
      });
      await service.queues.post('big', 'q', CLIENT, messages(5));
      await refusal(service.queues.post('big', 'q', CLIENT, messages(1)));
      // Its max_queues is still the default's.
      await refusal(service.queues.create('big', 'second', {}));
      await refusal(service.queues.post('small', 'q', CLIENT, messages(3)));
      await service.close();
    });

    it('the admin API layer: set beats the configuration at once, reset goes back to it', async () => {
      const { service } = await setup(kind, { defaults: { max_messages: 2 } });
      await service.queues.post('p', 'q', CLIENT, messages(2));
      await service.quotas.set('p', { max_messages: 4 });
      await service.queues.post('p', 'q', CLIENT, messages(2));
      const report = await service.quotas.report('p');
      assert.deepEqual(report, {
        project: 'p',
        quotas: { max_queues: null, max_messages: 4, max_bytes: null },
        usage: { queues: 1, messages: 4, bytes: 4 * bodySize('x') },
      });
      await service.quotas.reset('p');
      assert.equal((await service.quotas.report('p')).quotas.max_messages, 2);
      await refusal(service.queues.post('p', 'q', CLIENT, messages(1)));
      await service.close();
    });

    it('concurrent posts never take a project beyond its quota: exactly the limit is accepted', async () => {
      const limit = 25;
      const { service } = await setup(kind, { defaults: { max_messages: limit, max_queues: 3 } });
      const posts = Array.from({ length: 60 }, (_, i) => service.queues.post('p', `q${i % 5}`, CLIENT, messages(1)));
      const settled = await Promise.allSettled(posts);
      const accepted = settled.filter((s) => s.status === 'fulfilled').length;
      const refused = settled.filter((s) => s.status === 'rejected');
      assert.ok(refused.every((s) => s.reason instanceof QuotaExceededError));
      // Three of the five queues may exist; posts to the other two are refused, as are those past the limit.
      assert.equal((await service.queues.list('p')).queues.length, 3);
      assert.equal(accepted, limit);
      assert.equal(await total(service, 'p'), limit);
      await service.close();
    });

    it('a post the store refuses gives its room back', async () => {
      const { service, driver } = await setup(kind, { defaults: { max_messages: 2 } });
      await service.queues.post('p', 'q', CLIENT, messages(1));
      const real = driver.messages.post.bind(driver.messages);
      driver.messages.post = async () => {
        throw new Error('the store failed');
      };
      await assert.rejects(service.queues.post('p', 'q', CLIENT, messages(1)), /the store failed/);
      driver.messages.post = real;
      await service.queues.post('p', 'q', CLIENT, messages(1));
      assert.equal(await total(service, 'p'), 2);
      await service.close();
    });

    it('what another server wrote is seen at the next refresh, and quotas set there too', async () => {
      const clock = new FakeClock();
      const driver = await openDriver(kind, clock);
      const resolver = singleDriverResolver(driver);
      const settings = { refreshSeconds: 5, defaults: { max_messages: 4 } };
      const one = new QueueService({ resolver, clock, quotas: settings });
      const two = new QueueService({ resolver, clock, quotas: settings });
      await one.queues.post('p', 'q', CLIENT, messages(3));
      await two.queues.post('p', 'q', CLIENT, messages(1));
      await refusal(two.queues.post('p', 'q', CLIENT, messages(1)));
      // Server one still counts only its own three until it reads again.
      clock.advance(5_000);
      await refusal(one.queues.post('p', 'q', CLIENT, messages(1)));
      await two.quotas.set('p', { max_messages: 5 });
      clock.advance(5_000);
      // A stale view is served while it is read again behind it: a few requests later it is new.
      let seen: number | null = null;
      for (let i = 0; i < 10 && seen !== 5; i++) seen = (await one.quotas.report('p')).quotas.max_messages;
      assert.equal(seen, 5);
      await one.queues.post('p', 'q', CLIENT, messages(1));
      assert.equal(await total(one, 'p'), 5);
      await driver.close();
    });
  });
}

describe('service: quotas kept in the store', () => {
  it('a quota set through the admin layer survives a restart of the disk store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-quota-'));
    dirs.push(dir);
    const clock = new FakeClock();
    const first = new QueueService({ driver: await openDriver('disk', clock, dir), clock });
    await first.quotas.set('p', { max_queues: 1, max_bytes: null });
    await first.close();
    const second = new QueueService({ driver: await openDriver('disk', clock, dir), clock });
    assert.deepEqual((await second.quotas.report('p')).quotas, { max_queues: 1, max_messages: null, max_bytes: null });
    await second.queues.create('p', 'a', {});
    await refusal(second.queues.create('p', 'b', {}));
    // Its own queue is no queue of any project a client can list.
    assert.deepEqual(
      (await second.queues.list('p')).queues.map((q) => q.name),
      ['a'],
    );
    await second.close();
  });

  it('with no quota anywhere nothing is counted', async () => {
    const clock = new FakeClock();
    const driver = await openDriver('memory', clock);
    let listed = 0;
    const inner = singleDriverResolver(driver);
    const service = new QueueService({
      resolver: {
        ...inner,
        listQueues(project, options) {
          listed++;
          return inner.listQueues(project, options);
        },
      },
      clock,
    });
    for (let i = 0; i < 20; i++) await service.queues.post('p', `q${i}`, CLIENT, messages(1));
    // One read of the quotas the admin API set (there are none), no read of any project's usage.
    assert.equal(listed, 1);
    await service.close();
  });
});
