import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { buildHttpApp } from '../../../src/api/http/index.js';
import { StorageUnavailableError } from '../../../src/core/index.js';
import { QueueService, singleDriverResolver } from '../../../src/service/index.js';
import type { DataDriver } from '../../../src/store/contract/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { CLIENT, PATCH_TYPE, PROJECT } from './helpers.js';

/** A driver whose every storage call fails with `fault()` (isAlive still says yes). */
function faultyDriver(fault: () => unknown): DataDriver {
  const real = createMemoryDriver();
  const failing = <T extends object>(controller: T): T =>
    new Proxy(controller, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        return async () => {
          throw fault();
        };
      },
    });
  return {
    ...real,
    queues: failing(real.queues),
    messages: failing(real.messages),
    claims: failing(real.claims),
    subscriptions: failing(real.subscriptions),
  };
}

const ROUTES: [string, string, unknown?, string?][] = [
  ['GET', '/v2/queues'],
  ['PUT', '/v2/queues/q', { a: 1 }],
  ['GET', '/v2/queues/q'],
  ['PATCH', '/v2/queues/q', [{ op: 'add', path: '/metadata/a', value: 1 }], PATCH_TYPE],
  ['DELETE', '/v2/queues/q'],
  ['GET', '/v2/queues/q/stats'],
  ['POST', '/v2/queues/q/purge'],
  ['POST', '/v2/queues/q/messages', { messages: [{ body: 239, ttl: 100 }] }],
  ['GET', '/v2/queues/q/messages'],
  ['GET', '/v2/queues/q/messages?ids=a,b'],
  ['DELETE', '/v2/queues/q/messages?ids=a'],
  ['DELETE', '/v2/queues/q/messages?pop=1'],
  ['GET', '/v2/queues/q/messages/nonexistent'],
  ['DELETE', '/v2/queues/q/messages/nada'],
  ['POST', '/v2/queues/q/claims', { ttl: 100, grace: 60 }],
  ['GET', '/v2/queues/q/claims/nichts'],
  ['PATCH', '/v2/queues/q/claims/nichts', { ttl: 100, grace: 60 }],
  ['DELETE', '/v2/queues/q/claims/foo'],
  ['GET', '/v2/queues/q/subscriptions'],
  ['POST', '/v2/queues/q/subscriptions', { subscriber: 'http://x.example' }],
  ['GET', '/v2/queues/q/subscriptions/s'],
  ['PATCH', '/v2/queues/q/subscriptions/s', { ttl: 300 }],
  ['DELETE', '/v2/queues/q/subscriptions/s'],
  ['PUT', '/v2/queues/q/subscriptions/s/confirm', { confirmed: true }],
  ['GET', '/v2/topics'],
  ['POST', '/v2/topics/t/messages', { messages: [{ body: 1 }] }],
];

async function runAll(fault: () => unknown) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const service = new QueueService({ resolver: singleDriverResolver(faultyDriver(fault)) });
  const app = buildHttpApp({ service, logger: pino({ level: 'error' }, sink) });
  try {
    for (const [method, url, body, contentType] of ROUTES) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: {
          'client-id': CLIENT,
          'x-project-id': PROJECT,
          ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
        },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      const label = `${method} ${url}`;
      assert.equal(response.statusCode, 503, `${label}: ${response.body}`);
      assert.equal(response.headers['retry-after'], '30', label);
      const json = JSON.parse(response.body);
      assert.deepEqual(Object.keys(json), ['title', 'description'], label);
      assert.equal(json.title, 'Service temporarily unavailable', label);
      assert.match(json.description, /could not be .*\. Please try again in a few seconds\.$/, label);
      assert.doesNotMatch(response.body, /\bat .*\.ts:\d+/, `${label}: no stack in the answer`);
    }
    const ping = await app.inject({
      method: 'HEAD',
      url: '/v2/ping',
      headers: { 'client-id': CLIENT, 'x-project-id': PROJECT },
    });
    assert.equal(ping.statusCode, 204, 'the server keeps serving');
  } finally {
    await app.close();
  }
  return lines;
}

describe('http: a failing store is a 503, never a crash or a 500', () => {
  it('the store says it is unavailable', async () => {
    const lines = await runAll(() => new StorageUnavailableError('connection refused'));
    // One failure on every route is one line (with its cause and stack), not one per request.
    assert.equal(lines.length, 1, 'a failure that repeats is logged once');
    assert.match(lines[0] as string, /connection refused/);
    assert.match(lines[0] as string, /"stack"/);
  });

  it('the store throws something nobody expected (a plain error, a TypeError, a string)', async () => {
    let n = 0;
    const lines = await runAll(() => {
      n++;
      if (n % 3 === 0) return 'a thrown string';
      return n % 3 === 1 ? new Error('ECONNRESET') : new TypeError('x is not a function');
    });
    assert.ok(
      lines.some((line) => /TypeError/.test(line) && /stack/.test(line)),
      'the stack goes to the log',
    );
    assert.equal(lines.length, 3, 'each of the three failures is logged once');
  });
});
