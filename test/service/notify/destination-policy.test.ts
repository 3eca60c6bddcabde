import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock, makeLimits, silentLogger } from '../../../src/core/index.js';
import { QueueService, RequestRefusedError, singleDriverResolver, storeLimits } from '../../../src/service/index.js';
import {
  DestinationDeniedError,
  DestinationPolicy,
  type DestinationPolicyOptions,
  Notifier,
} from '../../../src/service/notify/index.js';
import type { SpoolEvent } from '../../../src/spool/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { startWebhookReceiver } from '../../fixtures/webhook-receiver.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

/** A resolver the test controls: names map to what `dns` says at the moment of the lookup. */
function fakeDns(initial: Record<string, string[]>) {
  const dns = { ...initial };
  const lookups: string[] = [];
  const resolve = async (host: string) => {
    lookups.push(host);
    const found = dns[host];
    if (found === undefined) throw Object.assign(new Error(`no such name ${host}`), { code: 'ENOTFOUND' });
    return found;
  };
  return { dns, lookups, resolve };
}

async function refusal(promise: Promise<unknown>): Promise<DestinationDeniedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DestinationDeniedError, `a DestinationDeniedError, not ${String(error)}`);
    return error;
  }
  assert.fail('was not refused');
}

describe('notify: the webhook destination policy', () => {
  const fake = fakeDns({
    localhost: ['127.0.0.1', '::1'],
    'public.test': ['93.184.216.34'],
    'mixed.test': ['93.184.216.34', '10.0.0.7'],
  });
  const strict = new DestinationPolicy({ denyPrivate: true, resolve: fake.resolve });

  it('refuses loopback, private, link-local, metadata, unspecified and IPv4-mapped addresses by default', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://127.9.9.9:8080/x',
      'http://2130706433/', // 127.0.0.1 as one number: the URL parser makes it an address
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://0.0.0.0/',
      'http://[::1]/',
      'http://[::]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/', // 169.254.169.254, mapped and written in hex
      'http://[fe80::1]/',
      'http://[fd00::1]/',
      'http://localhost:9/',
      'http://mixed.test/', // one private address among public ones is enough
    ]) {
      const error = await refusal(strict.checkUrl(url));
      assert.match(error.description, /may not reach|deny/, url);
    }
  });

  it('lets public addresses and names through, and does nothing at all when no rule denies', async () => {
    await strict.checkUrl('http://93.184.216.34/');
    await strict.checkUrl('https://public.test/hook');
    await strict.checkUrl('http://[2606:4700::1111]/');
    const before = fake.lookups.length;
    const open = new DestinationPolicy({ denyPrivate: false, resolve: fake.resolve });
    assert.equal(open.open, true);
    await open.checkUrl('http://localhost/');
    await open.checkUrl('http://10.0.0.1/');
    assert.equal(fake.lookups.length, before, 'an open policy resolves nothing');
  });

  it('allow wins over deny for listed networks and names; deny lists refuse public ones too', async () => {
    const trusted = new DestinationPolicy({
      denyPrivate: true,
      allow: ['10.1.0.0/16', '::1', 'localhost'],
      deny: ['93.184.216.0/24', '.evil.test'],
      resolve: fake.resolve,
    });
    await trusted.checkUrl('http://10.1.2.3/');
    await trusted.checkUrl('http://[::1]/');
    await trusted.checkUrl('http://localhost/');
    await trusted.checkUrl('http://[::ffff:10.1.2.3]/');
    await refusal(trusted.checkUrl('http://10.2.0.1/'));
    await refusal(trusted.checkUrl('http://127.0.0.1/'));
    await refusal(trusted.checkUrl('http://public.test/'));
    await refusal(trusted.checkUrl('http://a.b.evil.test/'));
    await refusal(trusted.checkUrl('http://evil.test/'));
  });

  it('refuses entries that are neither networks nor names', () => {
    assert.throws(() => new DestinationPolicy({ denyPrivate: false, deny: ['10.0.0.0/33'] }), RangeError);
    assert.throws(() => new DestinationPolicy({ denyPrivate: false, allow: ['not a host'] }), RangeError);
  });
});

async function setup(policy: DestinationPolicyOptions) {
  const clock = new FakeClock();
  const limits = makeLimits();
  const driver = createMemoryDriver({ clock, limits: storeLimits(limits) });
  const resolver = singleDriverResolver(driver);
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-destinations-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const notifier = await Notifier.open({
    resolver,
    dir,
    limits,
    clock,
    logger: silentLogger,
    destinations: new DestinationPolicy(policy),
  });
  cleanups.push(() => notifier.close({ timeoutMs: 100 }));
  const events: SpoolEvent[] = [];
  void (async () => {
    for await (const e of notifier.deliverySpool.events()) events.push(e);
  })();
  const service = new QueueService({ resolver, clock, limits, notifier });
  const receiver = await startWebhookReceiver(() => clock.now());
  cleanups.push(() => receiver.close());
  const port = Number(new URL(receiver.url('/')).port);
  return { service, notifier, events, receiver, port, driver };
}

async function eventually<T>(find: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const post = (s: { service: QueueService }, queue: string) =>
  s.service.queues.post('p', queue, CLIENT, { messages: [{ body: 'x', ttl: 300 }] });

describe('notify: destinations checked at subscription time and at delivery', () => {
  it('refuses a denied subscriber with a 400-class refusal and creates nothing (not even the queue)', async () => {
    const fake = fakeDns({ localhost: ['127.0.0.1'] });
    const s = await setup({ denyPrivate: true, resolve: fake.resolve });
    for (const subscriber of [
      s.receiver.url('/a'),
      'http://10.20.30.40/x',
      'http://[::1]:8080/',
      'http://169.254.169.254/latest',
      `http://localhost:${s.port}/b`,
      `trust+http://127.0.0.1:${s.port}/c`,
    ]) {
      await assert.rejects(s.service.queues.subscribe('p', 'q', { subscriber }), RequestRefusedError, subscriber);
    }
    assert.deepEqual((await s.service.queues.list('p')).queues, [], 'no queue was made');
    // Changing an allowed subscriber into a denied one is refused too, and changes nothing.
    fake.dns['ok.test'] = ['93.184.216.34'];
    const { id } = await s.service.queues.subscribe('p', 'q', { subscriber: 'http://ok.test/' });
    await assert.rejects(
      s.service.queues.updateSubscription('p', 'q', id, { subscriber: 'http://192.168.0.1/' }),
      RequestRefusedError,
    );
    assert.equal((await s.service.queues.getSubscription('p', 'q', id)).subscriber, 'http://ok.test/');
    // mailto: goes to the operator's relay: not the policy's business.
    await s.service.queues.subscribe('p', 'q', { subscriber: 'mailto:someone@localhost' });
  });

  it('delivers where allowed, connecting to the address the policy resolved and checked', async () => {
    const fake = fakeDns({ 'hooks.test': ['127.0.0.1'] });
    const s = await setup({ denyPrivate: true, allow: ['127.0.0.0/8'], resolve: fake.resolve });
    await s.service.queues.subscribe('p', 'q', { subscriber: `http://hooks.test:${s.port}/ok` });
    await post(s, 'q');
    const [hit] = await s.receiver.until('/ok', 1);
    // hooks.test exists only in the fake resolver: the connection used the policy's lookup.
    assert.equal(hit?.headers.host, `hooks.test:${s.port}`);
    assert.ok(fake.lookups.includes('hooks.test'));
  });

  it('fails a delivery for good, after one attempt, when the name resolves into a denied network by then', async () => {
    const fake = fakeDns({ 'hooks.test': ['93.184.216.34'] });
    const s = await setup({ denyPrivate: true, resolve: fake.resolve });
    const { id } = await s.service.queues.subscribe('p', 'q', { subscriber: `http://hooks.test:${s.port}/rebound` });
    // DNS rebinding: public while checked, loopback when the webhook is sent.
    fake.dns['hooks.test'] = ['127.0.0.1'];
    await post(s, 'q');
    await eventually(() => (s.notifier.counts(id).failed === 1 ? true : undefined), 'the failed delivery');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.hits.length, 0, 'nothing reached the loopback receiver');
    assert.equal(s.events.filter((e) => e.type === 'delayed').length, 0, 'no retry was scheduled');
    assert.ok(
      s.events.some((e) => e.type === 'bounced'),
      'the notification ended as failed',
    );
    assert.deepEqual(s.notifier.counts(id), { delivered: 0, pending: 0, failed: 1 });
  });

  it('does not follow a redirect (into a denied address or anywhere)', async () => {
    const fake = fakeDns({ 'redirector.test': ['127.0.0.1'] });
    const s = await setup({ denyPrivate: true, allow: ['redirector.test'], resolve: fake.resolve });
    let redirected = 0;
    const redirector = createServer((request, response) => {
      redirected++;
      request.resume();
      response.writeHead(307, { location: s.receiver.url('/target') }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => redirector.close(() => resolve())));
    const port = (redirector.address() as AddressInfo).port;
    await s.service.queues.subscribe('p', 'q', {
      subscriber: `http://redirector.test:${port}/go`,
      options: { _retry_policy: { retries_with_no_delay: 0, minimum_delay_retries: 0, maximum_delay_retries: 0 } },
    });
    await post(s, 'q');
    await eventually(() => (redirected > 0 ? true : undefined), 'the redirecting answer');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.on('/target').length, 0, 'the redirect was not followed');
  });
});
