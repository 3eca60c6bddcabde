import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createClient,
  HttpTransport,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  QuotaExceededError,
  RateLimitedError,
  RequestFailedError,
  requestAuth,
  StorageUnavailableError,
  serverAnswerOf,
} from '../../src/entry/client.js';
import { closedPort, fakeServer, json } from './fake-http.js';

const UNAVAILABLE = { title: 'Service temporarily unavailable', description: 'Messages could not be enqueued.' };
/** Retries without waiting: the backoff's jitter source answers 0. */
const FAST = { retries: 4, minDelayMs: 1, maxDelayMs: 1, random: () => 0 };

describe('client: retries', () => {
  it('a POST with an Idempotency-Key is retried on 503 with the same key, and succeeds', async () => {
    const server = await fakeServer((_request, response, index) => {
      if (index < 2) json(response, 503, UNAVAILABLE, { 'retry-after': '30' });
      else json(response, 201, { resources: ['/v2/queues/q/messages/m1'] });
    });
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const ids = await client.queue('q').post([{ body: 1 }], { idempotencyKey: 'key-1' });
      assert.deepEqual(ids, ['m1']);
      assert.equal(server.received.length, 3);
      assert.deepEqual(
        server.received.map((r) => r.headers['idempotency-key']),
        ['key-1', 'key-1', 'key-1'],
      );
      assert.ok(server.received.every((r) => r.body === '{"messages":[{"body":1}]}'));
      assert.equal(client.transport.retriesMade, 2);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a POST without a key, and a pop, are never retried: one request, a typed 503', async () => {
    const server = await fakeServer((_request, response) => json(response, 503, UNAVAILABLE));
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const error = await client
        .queue('q')
        .post([{ body: 1 }])
        .catch((e: unknown) => e);
      assert.ok(error instanceof StorageUnavailableError);
      assert.equal(error.message, UNAVAILABLE.description);
      assert.equal(serverAnswerOf(error)?.title, UNAVAILABLE.title);
      assert.equal(server.received.length, 1);
      await assert.rejects(client.queue('q').pop(2), StorageUnavailableError);
      assert.equal(server.received.length, 2, 'the pop (a DELETE) was sent once');
      assert.equal(client.transport.retriesMade, 0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a GET is retried on 503 until the retries run out, then throws the last answer', async () => {
    const server = await fakeServer((_request, response) => json(response, 503, UNAVAILABLE));
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      await assert.rejects(client.queue('q').stats(), StorageUnavailableError);
      assert.equal(server.received.length, 1 + FAST.retries);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a refused connection: a GET is retried, then RequestFailedError with no status; a bare POST is tried once', async () => {
    const port = await closedPort();
    const client = createClient({ url: `http://127.0.0.1:${port}`, project: 'p', retry: FAST });
    try {
      const error = await client
        .queue('q')
        .stats()
        .catch((e: unknown) => e);
      assert.ok(error instanceof RequestFailedError, String(error));
      assert.equal(error.status, null);
      assert.equal(client.transport.retriesMade, FAST.retries);
      await assert.rejects(client.queue('q').post([{ body: 1 }]), RequestFailedError);
      assert.equal(client.transport.retriesMade, FAST.retries, 'the POST was not retried');
    } finally {
      await client.close();
    }
  });

  it('a connection cut before the answer: a GET is retried and succeeds; a bare POST fails at once', async () => {
    const server = await fakeServer((request, response, index) => {
      if (index === 0 || index === 2) {
        response.socket?.destroy();
        return;
      }
      if (request.method === 'GET') json(response, 200, { messages: { claimed: 0, free: 1, total: 1 } });
      else json(response, 201, { resources: [] });
    });
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      assert.equal((await client.queue('q').stats()).total, 1);
      assert.equal(server.received.length, 2);
      await assert.rejects(client.queue('q').post([{ body: 1 }]), RequestFailedError);
      assert.equal(server.received.length, 3);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('the backoff is full jitter under a doubling ceiling, capped', () => {
    const transport = (random: number) =>
      new HttpTransport({
        url: 'http://127.0.0.1:1',
        clientId: 'c',
        auth: requestAuth(undefined, 'p', undefined as never),
        retry: { minDelayMs: 100, maxDelayMs: 1000, random: () => random },
      });
    const top = transport(0.9999);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((n) => top.backoff(n)),
      [99, 199, 399, 799, 999, 999],
    );
    assert.deepEqual(
      [0, 3, 10].map((n) => transport(0).backoff(n)),
      [0, 0, 0],
    );
  });
});

describe('client: error answers', () => {
  it('429 is RateLimitedError with the wait of Retry-After and the rate of the description', async () => {
    const description = 'Project "p" may make 5 requests per second (requests_per_second), 10 at once; retry in 2 s.';
    const server = await fakeServer((_r, response) =>
      json(response, 429, { title: 'Too many requests', description }, { 'retry-after': '2' }),
    );
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const error = await client
        .queue('q')
        .stats()
        .catch((e: unknown) => e);
      assert.ok(error instanceof RateLimitedError);
      assert.equal(error.retryAfterMs, 2000);
      assert.equal(error.limit, 'requests_per_second');
      assert.equal(error.rate, 5);
      assert.equal(error.burst, 10);
      assert.equal(server.received.length, 1, 'a 429 is not retried by the client');
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('403 of a quota is QuotaExceededError with its numbers; other answers keep status and body', async () => {
    const quota = 'Project "p" may hold at most 10 messages (max_messages); it holds 9 and this post adds 2.';
    const server = await fakeServer((request, response) => {
      if (request.method === 'POST') json(response, 403, { title: 'Quota exceeded', description: quota });
      else {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html>bad gateway</html>');
      }
    });
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const error = await client
        .queue('q')
        .post([{ body: 1 }, { body: 2 }])
        .catch((e: unknown) => e);
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.deepEqual([error.quota, error.limit, error.held, error.adding], ['max_messages', 10, 9, 2]);
      const gateway = await client
        .queue('q')
        .stats()
        .catch((e: unknown) => e);
      assert.ok(gateway instanceof RequestFailedError);
      assert.equal(gateway.status, 502);
      assert.equal(serverAnswerOf(gateway)?.description, '<html>bad gateway</html>');
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("finish sends claim_id and fenced=true; 204 is 'deleted', every refusal 'lease-lost', a 503 throws", async () => {
    const answers: [number, unknown][] = [
      [204, undefined],
      [404, { title: 'Not found', description: 'message "m" does not exist in queue "q"' }],
      [
        403,
        {
          title: 'Unable to delete',
          description: 'This message is claimed by another claim; it cannot be deleted without a valid claim ID.',
        },
      ],
      [
        400,
        { title: 'Unable to delete', description: 'A claim was specified, but the message is not currently claimed.' },
      ],
      [400, { title: 'Unable to delete', description: 'The specified claim does not exist or has expired.' }],
    ];
    const server = await fakeServer((_r, response, index) => {
      const answer = answers[index];
      if (answer === undefined) json(response, 503, UNAVAILABLE);
      else json(response, answer[0], answer[1]);
    });
    const client = createClient({ url: server.url, project: 'p', retry: { ...FAST, retries: 1 } });
    try {
      const q = client.queue('q');
      const outcomes = [];
      for (let i = 0; i < answers.length; i++) outcomes.push(await q.finish('m', 'c1'));
      assert.deepEqual(outcomes, ['deleted', 'lease-lost', 'lease-lost', 'lease-lost', 'lease-lost']);
      const url = new URL(server.received[0]?.url ?? '', server.url);
      assert.equal(server.received[0]?.method, 'DELETE');
      assert.equal(url.pathname, '/v2/queues/q/messages/m');
      assert.equal(url.searchParams.get('claim_id'), 'c1');
      assert.equal(url.searchParams.get('fenced'), 'true');
      await assert.rejects(q.finish('m', 'c1'), StorageUnavailableError);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("finishMany sends one fenced DELETE ?ids&claim_ids per 20 ids; what 'deleted' names is 'deleted', the rest 'lease-lost'", async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const server = await fakeServer((request, response) => {
      const url = new URL(request.url ?? '', 'http://x');
      const asked = (url.searchParams.get('ids') ?? '').split(',');
      const deleted = asked.filter((id) => id !== 'm3' && id !== 'm21');
      json(response, 200, { deleted, not_deleted: asked.filter((id) => !deleted.includes(id)) });
    });
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const outcomes = await client.queue('q').finishMany(ids, 'c1');
      assert.deepEqual(
        outcomes,
        ids.map((id) => (id === 'm3' || id === 'm21' ? 'lease-lost' : 'deleted')),
      );
      const urls = server.received.map((r) => new URL(r.url ?? '', server.url));
      assert.deepEqual(
        urls.map((u) => u.searchParams.get('ids')?.split(',').length).sort(),
        [20, 5],
        'the two batches, sent together',
      );
      for (const [i, u] of urls.entries()) {
        assert.equal(server.received[i]?.method, 'DELETE');
        assert.equal(u.pathname, '/v2/queues/q/messages');
        assert.equal(u.searchParams.get('claim_ids'), 'c1');
        assert.equal(u.searchParams.get('fenced'), 'true');
      }
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a success answer that is not JSON is RequestFailedError with its status, not a SyntaxError', async () => {
    const server = await fakeServer((_r, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>a captive portal</html>');
    });
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const error = await client
        .queue('q')
        .stats()
        .catch((e: unknown) => e);
      assert.ok(error instanceof RequestFailedError, String(error));
      assert.equal(error.status, 200);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('the refusals of a delete are the typed errors of the library', async () => {
    const answers: [number, string][] = [
      [403, 'This message is claimed by another claim; it cannot be deleted without a valid claim ID.'],
      [403, 'This message is claimed; it cannot be deleted without a valid claim ID.'],
      [400, 'A claim was specified, but the message is not currently claimed.'],
    ];
    const server = await fakeServer((_r, response, index) =>
      json(response, answers[index]?.[0] ?? 500, { title: 'Unable to delete', description: answers[index]?.[1] }),
    );
    const client = createClient({ url: server.url, project: 'p', retry: FAST });
    try {
      const q = client.queue('q');
      const byOther = await q.deleteMessage('m', 'c1').catch((e: unknown) => e);
      assert.ok(byOther instanceof MessageNotClaimedByError, String(byOther));
      assert.deepEqual([byOther.messageId, byOther.claimId], ['m', 'c1']);
      await assert.rejects(q.deleteMessage('m'), MessageClaimedError);
      await assert.rejects(q.deleteMessage('m', 'c1'), MessageNotClaimedError);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
