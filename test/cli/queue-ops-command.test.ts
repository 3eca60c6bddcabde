/**
 * The operator's commands against a real server on a free port, each run as its own process as
 * people run it: `posthorn queue list|stats|peek|post|purge|redrive` and `posthorn top --once`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/cli-io.js';
import { runCli } from '../../src/cli/program.js';
import { topRows } from '../../src/cli/top-command.js';
import { systemClock } from '../../src/core/index.js';
import { loadServerConfig, type RunningServer, startQueueServer } from '../../src/server/index.js';
import { jsonCaller, zaqarHeaders } from '../server/serve-client.js';
import { freePort } from '../store/redis/support.js';
import { posthornProcess } from './run-posthorn.js';

const PROJECT = 'ops-cli';
const ADMIN = 'ops-cli-admin-token-0123456789abcdef';
const call = jsonCaller(zaqarHeaders(PROJECT));

describe('posthorn queue … and top, over HTTP', () => {
  let dir: string;
  let server: RunningServer;
  const run = (...args: string[]) =>
    posthornProcess([...args, '--url', server.url], { env: { POSTHORN_PROJECT: PROJECT }, cwd: dir });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'posthorn-ops-cli-'));
    const file = join(dir, 'posthorn.json');
    writeFileSync(
      file,
      JSON.stringify({ store: 'memory', log_level: 'silent', data: join(dir, 'data'), admin: { token: ADMIN } }),
    );
    server = await startQueueServer(
      loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }),
    );
    assert.equal(
      (await call(server.url, 'PUT', '/v2/queues/orders', { _dead_letter_queue: 'orders-dlq' })).status,
      201,
    );
    for (const body of [{ n: 1 }, { n: 2 }, { n: 3 }]) {
      assert.equal(
        (await call(server.url, 'POST', '/v2/queues/orders/messages', { messages: [{ body }] })).status,
        201,
      );
    }
    assert.equal(
      (await call(server.url, 'POST', '/v2/queues/orders-dlq/messages', { messages: [{ body: 'dead', ttl: 900 }] }))
        .status,
      201,
    );
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('queue list: a table, and JSON', async () => {
    const table = await run('queue', 'list');
    assert.equal(table.code, 0, table.err);
    const lines = table.out.split('\n');
    assert.match(lines[0] ?? '', /^queue\s+free\s+claimed\s+total\s+oldest$/);
    assert.match(table.out, /^orders\s+3\s+0\s+3\s+\d+s$/m);
    assert.match(table.out, /^orders-dlq\s+1\s+0\s+1\s+/m);
    assert.match(table.out, /^2 queues$/m);
    const json = await run('queue', 'list', '--json');
    assert.equal(json.code, 0, json.err);
    const parsed = JSON.parse(json.out);
    const orders = parsed.queues.find((q: { name: string }) => q.name === 'orders');
    assert.deepEqual(
      { ...orders, oldest_age: typeof orders.oldest_age },
      {
        name: 'orders',
        free: 3,
        claimed: 0,
        total: 3,
        oldest_age: 'number',
      },
    );
  });

  it('queue stats and peek', async () => {
    const stats = await run('queue', 'stats', 'orders');
    assert.equal(stats.code, 0, stats.err);
    assert.match(stats.out, /^total\s+3$/m);
    const statsJson = JSON.parse((await run('queue', 'stats', `${PROJECT}/orders`, '--json', '--project', 'x')).out);
    assert.equal(statsJson.messages.total, 3, 'project/queue names the project');
    const peek = await run('queue', 'peek', 'orders', '--limit', '2');
    assert.equal(peek.code, 0, peek.err);
    assert.match(peek.out, /\{"n":1\}/);
    assert.match(peek.out, /\{"n":2\}/);
    assert.doesNotMatch(peek.out, /\{"n":3\}/);
    const peeked = JSON.parse((await run('queue', 'peek', 'orders', '--json')).out);
    assert.deepEqual(
      peeked.messages.map((m: { body: unknown }) => m.body),
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    );
  });

  it('queue post, purge', async () => {
    const posted = await run('queue', 'post', 'scratch', '{"hello":"world"}', '--ttl', '120', '--json');
    assert.equal(posted.code, 0, posted.err);
    const { ids } = JSON.parse(posted.out);
    assert.equal(ids.length, 1);
    const text = await run('queue', 'post', 'scratch', 'not json');
    assert.match(text.out, /^posted \S+ to scratch$/m);
    const peeked = JSON.parse((await run('queue', 'peek', 'scratch', '--json')).out);
    assert.deepEqual(
      peeked.messages.map((m: { body: unknown; ttl: number }) => [m.body, m.ttl]),
      [
        [{ hello: 'world' }, 120],
        ['not json', 3600],
      ],
    );
    const purged = await run('queue', 'purge', 'scratch');
    assert.equal(purged.code, 0, purged.err);
    assert.match(purged.out, /purged messages of scratch/);
    assert.equal(JSON.parse((await run('queue', 'stats', 'scratch', '--json')).out).messages.total, 0);
  });

  it('queue redrive: refused without a dead-letter queue, then moves the dead letter back', async () => {
    const refused = await run('queue', 'redrive', 'scratch');
    assert.equal(refused.code, 1);
    assert.match(
      refused.err,
      /^posthorn queue redrive: .*400 Invalid API request: Queue scratch has no dead-letter queue/m,
    );
    const refusedJson = await run('queue', 'redrive', 'scratch', '--json');
    assert.equal(JSON.parse(refusedJson.err).error.code, 'PH_REQUEST_FAILED');
    const moved = await run('queue', 'redrive', 'orders');
    assert.equal(moved.code, 0, moved.err);
    assert.match(moved.out, /^moved 1 message from orders-dlq back to orders$/m);
    const peeked = JSON.parse((await run('queue', 'peek', 'orders', '--json')).out);
    assert.deepEqual(peeked.messages.at(-1).body, 'dead');
    assert.ok(peeked.messages.at(-1).ttl <= 900 && peeked.messages.at(-1).ttl > 800, 'the ttl it had left');
    const again = JSON.parse((await run('queue', 'redrive', 'orders', '--json')).out);
    assert.equal(again.count, 0);
  });

  it('top --once: the busiest queues first, with posted/s and deleted/s from GET /metrics', async () => {
    // Nothing posts or deletes while top takes its two samples (these tests run one by one), so
    // every rate is exactly zero, whatever the time between them.
    const once = await run('top', '--once', '--interval', '0.2');
    assert.equal(once.code, 0, once.err);
    const lines = once.out.split('\n');
    assert.match(lines[0] ?? '', /^posthorn top — http:\/\/127\.0\.0\.1:\d+, project ops-cli/);
    assert.match(lines[1] ?? '', /^queue\s+total\s+free\s+claimed\s+delayed\s+posted\/s\s+deleted\/s\s+oldest$/);
    assert.match(lines[3] ?? '', /^orders\s+4\s+4\s+0\s+0\s+0\.0\s+0\.0\s+\d+s$/, 'the deepest queue first');
    assert.doesNotMatch(once.out, /growth\/s/);
    const json = JSON.parse((await run('top', '--once', '--interval', '0.2', '--json', '--limit', '1')).out);
    assert.equal(json.metrics_unavailable, null);
    assert.equal(json.queues.length, 1);
    assert.deepEqual(
      { ...json.queues[0], oldest_age: typeof json.queues[0].oldest_age },
      {
        name: 'orders',
        total: 4,
        free: 4,
        claimed: 0,
        delayed: 0,
        posted_per_second: 0,
        deleted_per_second: 0,
        growth_per_second: 0,
        oldest_age: 'number',
      },
    );
  });

  it('top without GET /metrics: growth/s instead, said once under the table', async () => {
    // Metrics off on the server (404), and then metrics on but the caller no admin (401).
    const offDir = mkdtempSync(join(tmpdir(), 'posthorn-ops-cli-off-'));
    const off = await startQueueServer(
      loadServerConfig({
        env: { POSTHORN_METRICS: 'false' },
        cwd: offDir,
        flags: { port: 0, wsPort: 0, store: 'memory', logLevel: 'silent', data: join(offDir, 'data') },
      }),
    );
    try {
      assert.equal((await call(off.url, 'POST', '/v2/queues/jobs/messages', { messages: [{ body: 1 }] })).status, 201);
      const once = await posthornProcess(['top', '--once', '--interval', '0.2', '--url', off.url], {
        env: { POSTHORN_PROJECT: PROJECT },
        cwd: offDir,
      });
      assert.equal(once.code, 0, once.err);
      const lines = once.out.split('\n');
      assert.match(lines[1] ?? '', /^queue\s+total\s+free\s+claimed\s+growth\/s\s+oldest$/);
      assert.match(lines[3] ?? '', /^jobs\s+1\s+1\s+0\s+\+0\.0\s+\d+s$/);
      assert.match(
        lines[4] ?? '',
        /^posted\/s and deleted\/s need GET \/metrics \(GET \/metrics answered 404\): showing growth\/s, the change in depth$/,
      );
      assert.equal(once.out.match(/need GET \/metrics/g)?.length, 1, 'said once');
      const json = JSON.parse(
        (
          await posthornProcess(['top', '--once', '--interval', '0.2', '--json', '--url', off.url], {
            env: { POSTHORN_PROJECT: PROJECT },
            cwd: offDir,
          })
        ).out,
      );
      assert.equal(json.metrics_unavailable, 'GET /metrics answered 404');
      assert.deepEqual(
        [json.queues[0].posted_per_second, json.queues[0].deleted_per_second, json.queues[0].delayed],
        [null, null, null],
      );
      assert.equal(json.queues[0].growth_per_second, 0);
    } finally {
      await off.close();
      rmSync(offDir, { recursive: true, force: true });
    }
    // The admin-gated server of these tests, asked without its admin token (from a folder with no
    // configuration to read it from).
    const anonymous = await posthornProcess(['top', '--once', '--interval', '0.2', '--url', server.url], {
      env: { POSTHORN_PROJECT: PROJECT },
      cwd: tmpdir(),
    });
    assert.equal(anonymous.code, 0, anonymous.err);
    assert.match(anonymous.out, /^queue\s+total\s+free\s+claimed\s+growth\/s\s+oldest$/m);
    assert.match(anonymous.out, /\(GET \/metrics answered 401\): showing growth\/s/);
  });

  it('top --metrics-url: the rates from a server whose metrics are on a port of their own', async () => {
    const metricsPort = await freePort();
    const ownDir = mkdtempSync(join(tmpdir(), 'posthorn-ops-cli-port-'));
    const own = await startQueueServer(
      loadServerConfig({
        env: { POSTHORN_METRICS_PORT: String(metricsPort) },
        cwd: ownDir,
        flags: { port: 0, wsPort: 0, store: 'memory', logLevel: 'silent', data: join(ownDir, 'data') },
      }),
    );
    const topJson = async (...extra: string[]) =>
      JSON.parse(
        (
          await posthornProcess(['top', '--once', '--interval', '0.2', '--json', '--url', own.url, ...extra], {
            env: { POSTHORN_PROJECT: PROJECT },
            cwd: ownDir,
          })
        ).out,
      );
    try {
      assert.equal((await call(own.url, 'POST', '/v2/queues/jobs/messages', { messages: [{ body: 1 }] })).status, 201);
      assert.equal((await topJson()).metrics_unavailable, 'GET /metrics answered 404', 'not on the HTTP port');
      const json = await topJson('--metrics-url', `http://127.0.0.1:${metricsPort}`);
      assert.equal(json.metrics_unavailable, null);
      assert.deepEqual([json.queues[0].name, json.queues[0].posted_per_second], ['jobs', 0]);
      const refused = await posthornProcess(['top', '--once', '--url', own.url, '--metrics-url', 'ftp://x'], {
        env: { POSTHORN_PROJECT: PROJECT },
        cwd: ownDir,
      });
      assert.notEqual(refused.code, 0);
      assert.match(refused.err, /--metrics-url.*must be an http/);
    } finally {
      await own.close();
      rmSync(ownDir, { recursive: true, force: true });
    }
  });

  it('top on a terminal redraws in place and quits with q', async () => {
    let screens = 0;
    let drawn = '';
    const raw: boolean[] = [];
    let onKey: ((data: Buffer) => void) | null = null;
    const io: CliIo = {
      out: () => {},
      err: () => {},
      setExitCode: () => {},
      clock: systemClock,
      env: { POSTHORN_PROJECT: PROJECT },
      cwd: () => dir,
      tty: {
        write: (text: string) => {
          drawn += text;
          // The second screen is a refresh: rates exist from then on. Then the operator quits.
          if (++screens === 2) setImmediate(() => onKey?.(Buffer.from('q')));
        },
        input: {
          setRawMode: (on: boolean) => raw.push(on),
          resume: () => {},
          pause: () => {},
          on: (_event: 'data', listener: (data: Buffer) => void) => {
            onKey = listener;
          },
          off: () => {
            onKey = null;
          },
        },
      },
    };
    const code = await runCli(['top', '--url', server.url, '--interval', '0.2'], io);
    assert.equal(code, 0);
    assert.equal(screens, 2, 'it stopped after q');
    assert.deepEqual(raw, [true, false], 'the terminal is given back as it was');
    const frames = drawn.split('\u001b[H\u001b[2J').filter((f) => f !== '');
    assert.equal(frames.length, 2);
    assert.match(frames[0] ?? '', /\(q quits\)/);
    assert.match(frames[0] ?? '', /^orders\s+\d+\s+\d+\s+0\s+0\s+-\s+-\s+/m, 'no rate at the first sample');
    assert.match(frames[1] ?? '', /^orders\s+\d+\s+\d+\s+0\s+0\s+0\.0\s+0\.0\s+/m, 'rates once there are two samples');
    assert.equal(onKey, null, 'the key listener is removed');
  });

  it('reports an unreachable server as one line', async () => {
    const down = await posthornProcess(['queue', 'list', '--url', 'http://127.0.0.1:1', '--project', 'p'], {
      cwd: dir,
    });
    assert.equal(down.code, 1);
    assert.match(down.err, /^posthorn queue list: cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('top: rates from two samples', () => {
  const depth = (name: string, total: number) => ({ name, free: total, claimed: 0, total, oldestAge: null });
  it("posted/s and deleted/s are the counters' change over the seconds between the samples", () => {
    const previous = {
      at: 10_000,
      depths: new Map([
        ['a', 5],
        ['b', 9],
      ]),
      counters: new Map([
        ['a', { posted: 10, deleted: 5, delayed: 0 }],
        ['b', { posted: 40, deleted: 31, delayed: 2 }],
      ]),
    };
    const rows = topRows(previous, {
      at: 14_000,
      depths: [depth('a', 7), depth('b', 1), depth('new', 3)],
      counters: new Map([
        ['a', { posted: 22, deleted: 15, delayed: 1 }],
        // b's server restarted: its counters went back, no rate across that.
        ['b', { posted: 2, deleted: 1, delayed: 0 }],
        ['new', { posted: 3, deleted: 0, delayed: 0 }],
      ]),
    });
    assert.deepEqual(
      rows.map((r) => [r.name, r.postedRate, r.deletedRate, r.delayed, r.rate]),
      [
        ['a', 3, 2.5, 1, 0.5],
        ['b', null, null, 0, -2],
        ['new', null, null, 0, null],
      ],
    );
    assert.deepEqual(
      topRows(null, { at: 14_000, depths: [depth('a', 7)], counters: null }).map((r) => [
        r.postedRate,
        r.deletedRate,
        r.delayed,
        r.rate,
      ]),
      [[null, null, null, null]],
      'no rates at the first sample, nothing known without GET /metrics',
    );
  });
});
