import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Clock, FakeClock, makeLimits, silentLogger, systemClock } from '../../../src/core/index.js';
import {
  type DriverResolver,
  QueueService,
  RequestRefusedError,
  singleDriverResolver,
  storeLimits,
  verifySignature,
} from '../../../src/service/index.js';
import {
  backoffDelays,
  effectiveRetryPolicy,
  Notifier,
  type NotifierOptions,
  parseSubscriber,
  payloadJson,
  readNotificationStatus,
  retryIntervals,
  webhookBody,
} from '../../../src/service/notify/index.js';
import type { SpoolEvent } from '../../../src/spool/index.js';
import type { DataDriver } from '../../../src/store/contract/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { startSmtpSink } from '../../fixtures/spool-smtp-sink.js';
import { type Hit, startWebhookReceiver, type WebhookReceiver } from '../../fixtures/webhook-receiver.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const SECRET = 'notify-test-secret';
const S = 1000;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const clean of cleanups.reverse()) await clean();
});

/** A short policy: 1 immediate retry, 1 after 2 s, backoff 2 s and 7 s, 1 after 12 s. */
const SHORT_POLICY = {
  retries_with_no_delay: 1,
  minimum_delay_retries: 1,
  minimum_delay: 2,
  maximum_delay: 12,
  maximum_delay_retries: 1,
  retry_backoff_function: 'linear',
};
const SHORT_SCHEDULE = [0, 2 * S, 2 * S, 7 * S, 12 * S];

interface Setup {
  clock: Clock;
  driver: DataDriver;
  service: QueueService;
  notifier: Notifier;
  receiver: WebhookReceiver;
  dir: string;
  events: SpoolEvent[];
  /** Counts of storage calls a post could make for notifications. */
  reads: { list: number; metadata: number };
}

async function setup(options: Partial<NotifierOptions> & { dir?: string; clock?: Clock } = {}): Promise<Setup> {
  const clock = options.clock ?? new FakeClock();
  const limits = makeLimits();
  const driver = createMemoryDriver({ clock, limits: storeLimits(limits) });
  const reads = { list: 0, metadata: 0 };
  const inner = singleDriverResolver(driver);
  // Counts the subscription listings and metadata reads, to prove what a post costs.
  const counted: DataDriver = {
    ...driver,
    queues: {
      ...driver.queues,
      getMetadata: (...args) => {
        reads.metadata++;
        return driver.queues.getMetadata(...args);
      },
    },
    subscriptions: {
      ...driver.subscriptions,
      list: (...args) => {
        reads.list++;
        return driver.subscriptions.list(...args);
      },
    },
  };
  const resolver: DriverResolver = { ...inner, forQueue: () => counted };
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'posthorn-notify-'));
  if (!options.dir) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const notifier = await Notifier.open({
    resolver,
    dir,
    limits,
    clock,
    logger: silentLogger,
    signedUrlSecret: SECRET,
    ...options,
  });
  cleanups.push(() => notifier.close({ timeoutMs: 100 }));
  const events: SpoolEvent[] = [];
  void (async () => {
    for await (const e of notifier.deliverySpool.events()) events.push(e);
  })();
  const service = new QueueService({ resolver, clock, limits, notifier, signedUrlSecret: SECRET });
  const receiver = await startWebhookReceiver(() => clock.now());
  cleanups.push(() => receiver.close());
  return { clock, driver, service, notifier, receiver, dir, events, reads };
}

/** Waits (real time; `ms` is a deadline for a busy machine) for a spool event. */
async function eventually<T>(find: () => T | undefined, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const jsonOf = (hit: Hit | undefined) => (hit?.json ?? {}) as Record<string, unknown>;

const post = (s: Setup, queue: string, ...bodies: unknown[]) =>
  s.service.queues.post('p', queue, CLIENT, { messages: bodies.map((body) => ({ body, ttl: 300 })) });

describe('notify: Zaqar retry policies as spool schedules', () => {
  it("gives Zaqar's default schedule: 3 at once, 3 after 5 s, linear 5..25 s, 3 after 30 s", () => {
    assert.deepEqual(
      retryIntervals({}),
      [0, 0, 0, 5, 5, 5, 5, 10, 15, 20, 25, 30, 30, 30].map((s) => s * S),
    );
    assert.deepEqual(retryIntervals(SHORT_POLICY), SHORT_SCHEDULE);
    assert.deepEqual(retryIntervals({ ...SHORT_POLICY, retries_with_no_delay: 0, maximum_delay_retries: 0 }), [
      2 * S,
      2 * S,
      7 * S,
    ]);
  });

  it("computes the backoff curves as Zaqar's Python does (values from Python)", () => {
    assert.deepEqual(backoffDelays('linear', 5, 30), [5, 10, 15, 20, 25]);
    assert.deepEqual(backoffDelays('geometric', 5, 30), [5, 7, 12, 19, 30]);
    assert.deepEqual(backoffDelays('exponential', 5, 30), [5, 7, 12, 19, 30]);
    assert.deepEqual(backoffDelays('arithmetic', 5, 30), [5, 7, 12, 20, 30]);
    assert.deepEqual(backoffDelays('geometric', 2, 60), [2, 2, 3, 5, 7, 10, 15, 21, 30, 42, 59]);
    assert.deepEqual(backoffDelays('arithmetic', 2, 60), [2, 3, 5, 8, 12, 17, 24, 31, 39, 49, 59]);
    // Zaqar's formulas divide by the minimum: a minimum of 0 falls back to linear steps.
    assert.deepEqual(backoffDelays('geometric', 0, 10), [0, 5]);
  });

  it("chooses the subscription's policy, else the queue's; the queue's alone when it says ignore_subscription_override", () => {
    const own = { _retry_policy: { minimum_delay: 1 } };
    const queue = { _retry_policy: { minimum_delay: 9 } };
    assert.deepEqual(effectiveRetryPolicy(own, queue), { minimum_delay: 1 });
    assert.deepEqual(effectiveRetryPolicy({}, queue), { minimum_delay: 9 });
    assert.deepEqual(
      effectiveRetryPolicy(own, { _retry_policy: { minimum_delay: 9, ignore_subscription_override: true } }),
      {
        minimum_delay: 9,
        ignore_subscription_override: true,
      },
    );
    assert.deepEqual(effectiveRetryPolicy({ _retry_policy: { ignore_subscription_override: true } }, null), {});
  });
});

describe('notify: webhooks through the delivery spool', () => {
  it('posts the message as Zaqar does, and retries a failing receiver exactly on the policy, on the fake clock', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    await s.service.queues.create('p', 'orders', { _retry_policy: SHORT_POLICY });
    await s.service.queues.subscribe('p', 'orders', { subscriber: s.receiver.url('/hook'), ttl: 3600 });
    s.receiver.script('/hook', 503, 500, 'garbage', 429, 408);
    const t0 = clock.now();
    await post(s, 'orders', { n: 1 });
    // Each failed attempt schedules the next one interval later; the clock moves only then.
    for (let attempt = 1; attempt <= SHORT_SCHEDULE.length; attempt++) {
      const delayed = await eventually(
        () => s.events.filter((e) => e.type === 'delayed')[attempt - 1] as Extract<SpoolEvent, { type: 'delayed' }>,
        `retry ${attempt}`,
      );
      assert.equal(delayed.until - delayed.at, SHORT_SCHEDULE[attempt - 1], `interval after attempt ${attempt}`);
      // Idle: the attempt's job has ended, and with it the retry's timer is set.
      await s.notifier.whenIdle();
      await clock.advanceAsync(delayed.until - clock.now());
    }
    const hits = await s.receiver.until('/hook', 6);
    assert.deepEqual(
      hits.map((h) => h.at - t0),
      [0, 0, 2 * S, 4 * S, 11 * S, 23 * S],
      'attempt times follow the schedule',
    );
    await eventually(() => s.events.find((e) => e.type === 'delivered'), 'delivery');
    const first = hits[0];
    assert.equal(first?.body, '{"ttl": 300, "body": {"n": 1}, "Message_Type": "Notification", "queue_name": "orders"}');
    assert.equal(first?.headers['content-type'], 'application/json');
    assert.ok(
      hits.every((h) => h.body === first?.body),
      'every retry carries the same document',
    );
    const id = (await s.service.queues.listSubscriptions('p', 'orders')).subscriptions[0]?.id as string;
    assert.deepEqual(s.notifier.counts(id), { delivered: 1, pending: 0, failed: 0 });
  });

  it('counts a notification failed once its retries run out, and a 4xx (not 408/429) failed at once', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    await s.service.queues.create('p', 'q', { _retry_policy: { ...SHORT_POLICY, minimum_delay_retries: 0 } });
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/down') });
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/gone') });
    s.receiver.script('/down', 503, 503, 503, 503, 503, 503, 503);
    s.receiver.script('/gone', 404);
    await post(s, 'q', 'x');
    for (let i = 0; i < 4; i++) {
      const delayed = await eventually(() => s.events.filter((e) => e.type === 'delayed')[i], `retry ${i + 1}`);
      if (delayed.type !== 'delayed') throw new Error('not a delay');
      // Idle: the attempt's job has ended, and with it the retry's timer is set.
      await s.notifier.whenIdle();
      await clock.advanceAsync(delayed.until - clock.now());
    }
    await eventually(() => s.events.find((e) => e.type === 'bounced'), 'the end of the retries');
    assert.equal(s.receiver.on('/down').length, 5, 'a first attempt and four retries');
    assert.equal(s.receiver.on('/gone').length, 1, 'a 404 is not retried');
    const subs = (await s.service.queues.listSubscriptions('p', 'q')).subscriptions;
    const byUrl = new Map(subs.map((x) => [new URL(x.subscriber).pathname, x.id]));
    assert.deepEqual(s.notifier.counts(byUrl.get('/down') as string), { delivered: 0, pending: 0, failed: 1 });
    assert.deepEqual(s.notifier.counts(byUrl.get('/gone') as string), { delivered: 0, pending: 0, failed: 1 });
  });

  it('logs an attempt that did not deliver: once per destination and interval, never its path, query or address', async () => {
    const lines: { fields: Record<string, unknown>; message: string | undefined }[] = [];
    const warn = (fields: object, message?: string) =>
      lines.push({ fields: fields as Record<string, unknown>, message });
    const s = await setup({ logger: { info() {}, error: warn, warn } });
    const clock = s.clock as FakeClock;
    await s.service.queues.create('p', 'q', { _retry_policy: { ...SHORT_POLICY, minimum_delay_retries: 0 } });
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/down?token=secret-in-query') });
    s.receiver.script('/down?token=secret-in-query', 503, 503, 503, 503, 503, 503, 503);
    await post(s, 'q', 'x');
    const first = await eventually(() => s.events.find((e) => e.type === 'delayed'), 'the first attempt');
    const attempts = () => lines.filter((l) => l.message?.includes('not delivered'));
    assert.equal(attempts().length, 1);
    const { subscription, reason, ...line } = attempts()[0]?.fields ?? {};
    assert.match(String(subscription), /^[0-9a-f]{32}$/);
    assert.match(String(reason), /503/);
    assert.deepEqual(line, {
      project: 'p',
      queue: 'q',
      destination: new URL(s.receiver.url('/')).origin,
      retried: 1,
      failed: 0,
    });
    // The next attempt, 2 s later, is within the interval: counted, not logged.
    if (first.type !== 'delayed') throw new Error('not a delay');
    await s.notifier.whenIdle(); // the attempt's job has ended: the retry's timer is set
    await clock.advanceAsync(first.until - clock.now());
    const second = await eventually(() => s.events.filter((e) => e.type === 'delayed')[1], 'the second attempt');
    assert.equal(attempts().length, 1);
    // Past the interval, the next one is logged with how many lines it stands for.
    if (second.type !== 'delayed') throw new Error('not a delay');
    await s.notifier.whenIdle(); // the attempt's job has ended: the retry's timer is set
    clock.advance(10_000);
    await clock.advanceAsync(Math.max(0, second.until - clock.now()));
    await eventually(() => s.events.filter((e) => e.type === 'delayed')[2], 'the third attempt');
    await eventually(() => attempts()[1], 'the second line');
    assert.equal(attempts()[1]?.fields.unlogged, 1);
    assert.ok(!JSON.stringify(lines).includes('secret-in-query'), JSON.stringify(lines));
  });

  it('retries only the pairs not yet delivered, and shows pending counts while they wait', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    await s.service.queues.create('p', 'q', { _retry_policy: { ...SHORT_POLICY, retries_with_no_delay: 0 } });
    const ok = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/ok') });
    const flaky = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/flaky') });
    s.receiver.script('/flaky', 200, 503, 503);
    await post(s, 'q', 'a', 'b', 'c');
    await eventually(() => s.events.find((e) => e.type === 'delayed'), 'a retry');
    assert.equal(s.receiver.on('/ok').length, 3);
    assert.equal(s.receiver.on('/flaky').length, 3);
    assert.deepEqual(s.notifier.counts(ok.id), { delivered: 3, pending: 0, failed: 0 });
    assert.deepEqual(s.notifier.counts(flaky.id), { delivered: 1, pending: 2, failed: 0 });
    assert.deepEqual(s.service.queues.deliveryCounts(flaky.id), { delivered: 1, pending: 2, failed: 0 });
    await s.notifier.whenIdle(); // the attempt's job has ended: the retry's timer is set
    await clock.advanceAsync(2 * S);
    await eventually(() => s.events.find((e) => e.type === 'delivered'), 'the retry');
    assert.equal(s.receiver.on('/ok').length, 3, 'the delivered subscriber is not sent anything again');
    assert.equal(s.receiver.on('/flaky').length, 5, 'the retry sends only the two undelivered notifications');
    assert.deepEqual(s.notifier.counts(flaky.id), { delivered: 3, pending: 0, failed: 0 });
    await s.notifier.close();
    const onDisk = await readNotificationStatus(s.dir);
    assert.deepEqual(
      onDisk.map((x) => [x.id, x.delivered, x.pending, x.failed, x.source]).sort(),
      [
        [flaky.id, 3, 0, 0, 'q'],
        [ok.id, 3, 0, 0, 'q'],
      ].sort(),
      'the counts are on disk for posthorn notify status',
    );
  });

  it('applies post_data templates and post_headers', async () => {
    const s = await setup();
    await s.service.queues.subscribe('p', 'q', {
      subscriber: s.receiver.url('/t'),
      options: {
        post_data: '{"event": "$zaqar_message$", "again": "$zaqar_message$"}',
        post_headers: { 'X-Token': 'abc' },
      },
    });
    await post(s, 'q', 'hi');
    const [hit] = await s.receiver.until('/t', 1);
    const doc = '{"ttl": 300, "body": "hi", "Message_Type": "Notification", "queue_name": "q"}';
    assert.equal(hit?.body, `{"event": ${doc}, "again": ${doc}}`);
    assert.equal(hit?.headers['x-token'], 'abc');
    assert.equal(hit?.headers['content-type'], 'application/json');
    assert.equal(webhookBody(payloadJson({ a: 'é' }), {}), '{"a": "\\u00e9"}', "Python's json.dumps escapes non-ASCII");
  });

  it('notifies topic subscribers too, each posted message once per subscriber', async () => {
    const s = await setup();
    await s.service.topics.subscribe('p', 'news', { subscriber: s.receiver.url('/news') });
    await s.service.topics.post('p', 'news', CLIENT, { messages: [{ body: 1 }, { body: 2 }] });
    const hits = await s.receiver.until('/news', 2);
    assert.deepEqual(hits.map((h) => (h.json as { body: number }).body).sort(), [1, 2]);
    assert.ok(hits.every((h) => (h.json as { queue_name: string }).queue_name === 'news'));
  });
  it('retries follow the subscription as it is now: a new URL, and nothing once it is deleted', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    await s.service.queues.create('p', 'q', { _retry_policy: { ...SHORT_POLICY, retries_with_no_delay: 0 } });
    const moved = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/old') });
    const gone = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/gone') });
    s.receiver.script('/old', 503);
    s.receiver.script('/gone', 503);
    await post(s, 'q', 'm');
    await eventually(() => s.events.find((e) => e.type === 'delayed'), 'a retry');
    await s.service.queues.updateSubscription('p', 'q', moved.id, { subscriber: s.receiver.url('/new') });
    await s.service.queues.unsubscribe('p', 'q', gone.id);
    await s.notifier.whenIdle(); // the attempt's job has ended: the retry's timer is set
    await clock.advanceAsync(2 * S);
    await s.receiver.until('/new', 1);
    await eventually(() => s.events.find((e) => e.type === 'bounced'), 'the end');
    assert.equal(s.receiver.on('/old').length, 1);
    assert.equal(s.receiver.on('/gone').length, 1, 'a deleted subscription is not retried');
    assert.equal(jsonOf(s.receiver.on('/new')[0]).body, 'm');
  });
});

describe('notify: the post path', () => {
  it('costs no storage read on a queue without subscriptions, and sees its own subscribe at once', async () => {
    const s = await setup();
    await post(s, 'quiet', 1);
    const afterFirst = { ...s.reads };
    for (let i = 0; i < 20; i++) await post(s, 'quiet', i);
    assert.deepEqual(s.reads, afterFirst, 'posts within the cache time read nothing for notifications');
    await s.service.queues.subscribe('p', 'quiet', { subscriber: s.receiver.url('/late') });
    await post(s, 'quiet', 'now');
    const [hit] = await s.receiver.until('/late', 1);
    assert.equal(jsonOf(hit).body, 'now', 'a subscription made here applies to the next post');
    assert.equal(s.receiver.on('/late').length, 1);
  });

  it('notices a subscription made by another server within the cache time', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    await post(s, 'q', 1);
    // Another server sharing the store subscribes: this process is not told.
    await s.driver.subscriptions.create('p', 'q', s.receiver.url('/other'), { ttl: 3600 });
    await post(s, 'q', 'too early');
    clock.advance(1001);
    await post(s, 'q', 'seen');
    const [hit] = await s.receiver.until('/other', 1);
    assert.equal(jsonOf(hit).body, 'seen');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.on('/other').length, 1);
  });

  it('refuses subscribers of schemes not allowed and a flood of subscriptions beyond the limit, changing nothing', async () => {
    const s = await setup({ maxSubscriptionsPerQueue: 3 });
    await assert.rejects(
      s.service.queues.subscribe('p', 'q', { subscriber: 'ftp://example.org/x' }),
      RequestRefusedError,
    );
    for (let i = 0; i < 3; i++) await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url(`/s${i}`) });
    await assert.rejects(
      s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/s3') }),
      (e: unknown) => e instanceof RequestRefusedError && /has 3 subscriptions/.test(e.description),
    );
    assert.equal((await s.service.queues.listSubscriptions('p', 'q')).subscriptions.length, 3);
    // Subscribing again one that exists is not a new subscription.
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/s0') });
  });

  it('stops notifying an expired subscription, and gc removes it', async () => {
    const s = await setup();
    const clock = s.clock as FakeClock;
    const sub = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/brief'), ttl: 60 });
    await post(s, 'q', 'in time');
    await s.receiver.until('/brief', 1);
    clock.advance(61 * S);
    await post(s, 'q', 'too late');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.on('/brief').length, 1);
    const report = await s.driver.gc();
    assert.equal(report.subscriptions, 1);
    assert.equal(await s.driver.subscriptions.exists('p', 'q', sub.id), false);
  });
});

describe('notify: confirmation', () => {
  it('sends a signed SubscriptionConfirmation, nothing else until confirmed, and UnsubscribeConfirmation on false', async () => {
    const s = await setup({
      requireConfirmation: true,
      publicUrls: () => ({ http: 'http://queues.example:8888', ws: null }),
    });
    const sub = await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/c') });
    const [request] = await s.receiver.until('/c', 1);
    const doc = request?.json as Record<string, string>;
    const path = `/v2/queues/q/subscriptions/${sub.id}/confirm`;
    assert.equal(doc.Message_Type, 'SubscriptionConfirmation');
    assert.equal(doc['URL-Paths'], path);
    assert.equal(doc['URL-Methods'], 'PUT');
    assert.equal(doc['X-Project-ID'], 'p');
    assert.equal(doc.WSGISubscribeURL, `http://queues.example:8888${path}`);
    assert.deepEqual(doc.SubscribeBody, { confirmed: true });
    assert.equal(doc.queue_name, 'q');
    assert.ok(
      verifySignature(
        {
          signature: doc['URL-Signature'] as string,
          expires: doc['URL-Expires'],
          methods: doc['URL-Methods'],
          paths: doc['URL-Paths'],
          project: doc['X-Project-ID'],
          method: 'PUT',
          path,
        },
        SECRET,
        s.clock.now(),
      ),
      'the confirm URL is pre-signed with the server secret',
    );
    await post(s, 'q', 'before confirming');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.on('/c').length, 1, 'an unconfirmed subscriber gets nothing else');
    // Subscribing again while unconfirmed sends the request again.
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/c') });
    await s.receiver.until('/c', 2);
    await s.service.queues.confirmSubscription('p', 'q', sub.id, { confirmed: true });
    await post(s, 'q', 'after confirming');
    const hits = await s.receiver.until('/c', 3);
    assert.equal(jsonOf(hits[2]).body, 'after confirming');
    await s.service.queues.confirmSubscription('p', 'q', sub.id, { confirmed: false });
    const bye = (await s.receiver.until('/c', 4))[3]?.json as Record<string, string>;
    assert.equal(bye.Message_Type, 'UnsubscribeConfirmation');
    await post(s, 'q', 'after unconfirming');
    await s.notifier.whenIdle();
    assert.equal(s.receiver.on('/c').length, 4);
  });
});

describe('notify: mail', () => {
  it('sends a mailto: subscriber a mail through the SMTP relay, with from and subject', async () => {
    const sink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const s = await setup({ smtp: { host: '127.0.0.1', port: sink.port } });
    await s.service.queues.subscribe('p', 'mailq', {
      subscriber: 'mailto:ada@example.org',
      options: { from: 'queues@example.org', subject: 'New order' },
    });
    await s.service.queues.subscribe('p', 'mailq', { subscriber: 'mailto:bob@example.org?subject=From%20the%20URI' });
    await post(s, 'mailq', { order: 42 });
    await eventually(() => (sink.received.length >= 2 ? true : undefined), 'two mails');
    const ada = sink.received.find((m) => m.to.includes('ada@example.org'));
    assert.equal(ada?.from, 'queues@example.org');
    assert.match(ada?.raw ?? '', /Subject: New order/);
    assert.match(ada?.raw ?? '', /"body": \{"order": 42\}/);
    assert.match(ada?.raw ?? '', /"queue_name": "mailq"/);
    const bob = sink.received.find((m) => m.to.includes('bob@example.org'));
    assert.match(bob?.raw ?? '', /Subject: From the URI/);
  });

  it('retries a mail the relay defers (4xx) and fails one it refuses (5xx)', async () => {
    const sink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const s = await setup({ smtp: { host: '127.0.0.1', port: sink.port } });
    const clock = s.clock as FakeClock;
    sink.script('later@example.org', 451);
    sink.script('never@example.org', 550);
    const later = await s.service.queues.subscribe('p', 'm', { subscriber: 'mailto:later@example.org' });
    const never = await s.service.queues.subscribe('p', 'm', { subscriber: 'mailto:never@example.org' });
    await post(s, 'm', 'x');
    const delayed = await eventually(() => s.events.find((e) => e.type === 'delayed'), 'a retry');
    if (delayed.type !== 'delayed') throw new Error('not a delay');
    await s.notifier.whenIdle(); // the attempt's job has ended: the retry's timer is set
    await clock.advanceAsync(delayed.until - clock.now());
    await eventually(() => s.events.find((e) => e.type === 'bounced' || e.type === 'delivered'), 'the end');
    assert.equal(sink.count('later@example.org'), 1);
    assert.equal(sink.count('never@example.org'), 0);
    assert.deepEqual(s.notifier.counts(later.id), { delivered: 1, pending: 0, failed: 0 });
    assert.deepEqual(s.notifier.counts(never.id), { delivered: 0, pending: 0, failed: 1 });
  });
});

describe('notify: faults', () => {
  it('bounds a hanging receiver by the timeout; other subscribers are served meanwhile', async () => {
    const TIMEOUT_MS = 1500;
    const s = await setup({ clock: systemClock, webhookTimeoutMs: TIMEOUT_MS });
    await s.service.queues.create('p', 'q', {
      _retry_policy: { ...SHORT_POLICY, minimum_delay: 60, maximum_delay: 70 },
    });
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/hang') });
    await s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/fine') });
    s.receiver.script('/hang', 'hang', 'hang', 'hang');
    // When the other subscriber's request arrives, no hanging request may have been given up yet:
    // it did not wait for the hanging one's timeout.
    let hangGivenUpAtFine: boolean | undefined;
    s.receiver.onHit = (hit) => {
      if (hit.path === '/fine' && hangGivenUpAtFine === undefined)
        hangGivenUpAtFine = s.receiver.on('/hang').some((h) => h.abandoned);
    };
    await post(s, 'q', 1);
    await s.receiver.until('/fine', 1);
    assert.equal(hangGivenUpAtFine, false, 'the other subscriber waited for the hanging one');
    const delayed = await eventually(() => s.events.find((e) => e.type === 'delayed'), 'the timeout');
    // Cut by the timeout, and said so (eventually's deadline is what bounds it on a busy machine).
    assert.match(JSON.stringify(delayed), /no answer within 1500 ms/);
    assert.ok(
      s.receiver.on('/hang').every((h) => h.abandoned),
      'the hanging request was given up',
    );
    // While the hanging origin is paused, new notifications to the other subscriber still flow.
    for (let i = 2; i <= 4; i++) await post(s, 'q', i);
    await s.receiver.until('/fine', 4);
  });

  it('resumes a pending retry after the notifier is closed and opened again', async () => {
    const clock = new FakeClock();
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-notify-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await setup({ dir, clock });
    await first.service.queues.create('p', 'q', { _retry_policy: { ...SHORT_POLICY, retries_with_no_delay: 0 } });
    const sub = await first.service.queues.subscribe('p', 'q', { subscriber: first.receiver.url('/r') });
    first.receiver.script('/r', 503);
    await post(first, 'q', 'survives');
    await eventually(() => first.events.find((e) => e.type === 'delayed'), 'a retry');
    assert.deepEqual(first.notifier.counts(sub.id), { delivered: 0, pending: 1, failed: 0 });
    await first.notifier.close();
    // The same store (it outlives the notifier here), a new notifier on the same folder.
    const limits = makeLimits();
    const second = await Notifier.open({
      resolver: singleDriverResolver(first.driver),
      dir,
      limits,
      clock,
      logger: silentLogger,
    });
    cleanups.push(() => second.close({ timeoutMs: 100 }));
    assert.deepEqual(second.counts(sub.id), { delivered: 0, pending: 1, failed: 0 }, 'the retry is still pending');
    clock.advance(2 * S);
    const hits = await first.receiver.until('/r', 2);
    assert.equal(jsonOf(hits[1]).body, 'survives');
    await second.whenIdle();
    assert.deepEqual(second.counts(sub.id), { delivered: 1, pending: 0, failed: 0 });
  });
});

describe('notify: subscribers and the notifications folder', () => {
  it('reads subscriber URIs: webhooks (trust+ as plain), credentials as Basic auth, mailto with a subject', () => {
    assert.deepEqual(parseSubscriber('https://example.org/hook?x=1#frag'), {
      type: 'webhook',
      url: 'https://example.org/hook?x=1',
      authorization: null,
    });
    assert.deepEqual(parseSubscriber('trust+http://ada:s%20cret@example.org/h'), {
      type: 'webhook',
      url: 'http://example.org/h',
      authorization: `Basic ${Buffer.from('ada:s cret').toString('base64')}`,
    });
    assert.deepEqual(parseSubscriber('mailto:ada@example.org?Subject=Hi%20there'), {
      type: 'mail',
      address: 'ada@example.org',
      subject: 'Hi there',
    });
    assert.equal(parseSubscriber('mailto:nobody').type, 'unreachable');
    assert.equal(parseSubscriber('ftp://example.org/x').type, 'unreachable');
  });

  it('refuses a subscription whose retry policy Zaqar would refuse, and stores nothing', async () => {
    const s = await setup();
    for (const policy of [
      { minimum_delay: 10, maximum_delay: 5 },
      { minimum_delay: 10, maximum_delay: 15 },
      { retry_backoff_function: 'cubic' },
      { retries_with_no_delay: -1 },
      'often',
    ]) {
      await assert.rejects(
        s.service.queues.subscribe('p', 'q', { subscriber: s.receiver.url('/x'), options: { _retry_policy: policy } }),
        RequestRefusedError,
        JSON.stringify(policy),
      );
    }
    assert.equal((await s.service.queues.listSubscriptions('p', 'q')).subscriptions.length, 0);
  });

  it('gives each process sharing a notifications folder a slot of its own; the status adds them up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-notify-slots-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = await setup({ dir });
    const b = await setup({ dir });
    assert.equal(a.notifier.dir, join(dir, '0'));
    assert.equal(b.notifier.dir, join(dir, '1'));
    await a.service.queues.subscribe('p', 'q', { subscriber: a.receiver.url('/a') });
    await b.service.queues.subscribe('p', 'q', { subscriber: b.receiver.url('/b') });
    await post(a, 'q', 1);
    await post(b, 'q', 2);
    await a.receiver.until('/a', 1);
    await b.receiver.until('/b', 1);
    await a.notifier.close();
    await b.notifier.close();
    const rows = await readNotificationStatus(dir);
    assert.deepEqual(rows.map((r) => [new URL(r.subscriber ?? 'x:').pathname, r.delivered]).sort(), [
      ['/a', 1],
      ['/b', 1],
    ]);
  });
});
