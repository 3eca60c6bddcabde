import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { PROJECT, testApi } from './helpers.js';

const NO_HEADERS = { 'client-id': undefined, 'x-project-id': undefined };

/** A logger that keeps every line it is given. */
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message: string | undefined }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message?: string): void => {
      lines.push({ level, fields, message });
    };
  const logger = {
    level: 'info',
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => {},
    child: () => logger,
  } as unknown as FastifyBaseLogger;
  return { logger, lines };
}

describe('http: probes for load balancers, private health, request and failure logs', () => {
  it('GET and HEAD /healthz answer 200 without any header while the process serves', async () => {
    const dead = createMemoryDriver();
    await dead.close();
    for (const api of [testApi(), testApi({ driver: dead })]) {
      try {
        const answer = await api.call('GET', '/healthz', { headers: NO_HEADERS });
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.json, { status: 'ok' });
        assert.equal((await api.call('HEAD', '/healthz', { headers: NO_HEADERS })).status, 200);
      } finally {
        await api.close();
      }
    }
  });

  it('GET /readyz is 200 while every store answers and 503 naming the one that does not', async () => {
    const api = testApi();
    try {
      const answer = await api.call('GET', '/readyz', { headers: NO_HEADERS });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { status: 'ready', stores: { default: 'up' } });
    } finally {
      await api.close();
    }
    const dead = createMemoryDriver();
    await dead.close();
    const down = testApi({ driver: dead });
    try {
      const answer = await down.call('GET', '/readyz', { headers: NO_HEADERS });
      assert.equal(answer.status, 503);
      assert.deepEqual(answer.json, {
        title: 'Service temporarily unavailable',
        description: 'These stores do not answer: default.',
        stores: { default: 'down' },
      });
      assert.equal((await down.call('HEAD', '/readyz', { headers: NO_HEADERS })).status, 503);
    } finally {
      await down.close();
    }
  });

  it('GET /v2/health needs the admin token when one is configured, and is open without one', async () => {
    const guarded = testApi({ app: { adminToken: 'sesame' } });
    try {
      const refused = await guarded.call('GET', '/v2/health');
      assert.equal(refused.status, 403);
      assert.equal(refused.json.title, 'Not authorized');
      assert.equal((await guarded.call('GET', '/v2/health', { headers: { 'x-admin-token': 'wrong' } })).status, 403);
      const allowed = await guarded.call('GET', '/v2/health', { headers: { 'x-admin-token': 'sesame' } });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.json.storage_reachable, true);
      assert.equal((await guarded.call('GET', '/v1.1/health')).status, 403);
    } finally {
      await guarded.close();
    }
    const open = testApi();
    try {
      assert.equal((await open.call('GET', '/v2/health')).status, 200);
    } finally {
      await open.close();
    }
  });

  it('logs one info line per request with its route template, never its body or tokens', async () => {
    const { logger, lines } = recordingLogger();
    const api = testApi({ app: { logger, logRequests: true } });
    try {
      await api.call('PUT', '/v2/queues/orders');
      await api.call('POST', '/v2/queues/orders/messages', {
        body: { messages: [{ body: 'secret-body' }] },
        headers: { 'x-auth-token': 'secret-token' },
      });
      await api.call('GET', '/v2/queues/orders/claims/0123456789abcdef0123456789abcdef');
      const requests = lines.filter((l) => l.message === 'request');
      assert.deepEqual(
        requests.map((l) => [l.level, l.fields.method, l.fields.route, l.fields.status, l.fields.project]),
        [
          ['info', 'PUT', '/v2/queues/:name', 201, PROJECT],
          ['info', 'POST', '/v2/queues/:name/messages', 201, PROJECT],
          ['info', 'GET', '/v2/queues/:name/claims/:id', 404, PROJECT],
        ],
      );
      for (const line of requests) assert.equal(typeof line.fields.ms, 'number');
      const written = JSON.stringify(lines);
      assert.ok(!written.includes('secret-body') && !written.includes('secret-token'), written);
    } finally {
      await api.close();
    }
    const quiet = recordingLogger();
    const off = testApi({ app: { logger: quiet.logger, logRequests: false } });
    try {
      await off.call('PUT', '/v2/queues/orders');
      assert.deepEqual(quiet.lines, []);
    } finally {
      await off.close();
    }
  });

  it('a store that fails every request is logged once a minute, with how many failures the line stands for', async () => {
    const dead = createMemoryDriver();
    await dead.close();
    const { logger, lines } = recordingLogger();
    const api = testApi({ driver: dead, app: { logger } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await api.call('GET', '/v2/queues/q/stats')).status, 503);
      const errors = () => lines.filter((l) => l.level === 'error');
      assert.equal(errors().length, 1);
      assert.equal(errors()[0]?.fields.route, '/v2/queues/:name/stats');
      assert.ok(errors()[0]?.fields.err instanceof Error, 'the first line carries the error with its cause');
      api.clock.advance(60_000);
      assert.equal((await api.call('GET', '/v2/queues/q/stats')).status, 503);
      assert.equal(errors().length, 2);
      assert.equal(errors()[1]?.fields.repeated, 2);
    } finally {
      await api.close();
    }
  });
});
