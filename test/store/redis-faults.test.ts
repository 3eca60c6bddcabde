/**
 * A Redis that goes away while the driver is busy, on a server this test starts itself with
 * appendfsync always: while it is down every call fails with StorageUnavailableError within a
 * bounded time (none hangs), isAlive says false; once it is back the same driver works again by
 * itself, and nothing acknowledged was lost. Also a Redis that hangs (SIGSTOP) rather than dies.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { StorageUnavailableError, silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { RedisServer, redisBinariesPresent, suiteNeeding } from './redis/support.js';

const binaries = await redisBinariesPresent();
const COMMAND_TIMEOUT_MS = 1000;
/** The longest any one call may take before it settles, whatever Redis does. */
const CALL_BOUND_MS = 5000;

interface Outcome {
  ok: boolean;
  error?: unknown;
  ms: number;
  at: number;
}

suiteNeeding('redis faults (server started here)', binaries ? null : 'redis-server is not installed', () => {
  let server: RedisServer;
  let driver: DataDriver;
  before(async () => {
    server = await RedisServer.start(['--appendonly', 'yes', '--appendfsync', 'always'], 'faults');
    driver = await createRedisDriver({ url: server.url, logger: silentLogger, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  });
  after(async () => {
    await driver?.close();
    await server?.stop();
  });

  it('stopped and restarted under load: calls fail with StorageUnavailableError, then work again by themselves; nothing acknowledged is lost', async (t) => {
    const posted: string[] = [];
    const triedDeletes = new Set<string>();
    const deleted: string[] = [];
    const outcomes: Outcome[] = [];
    let running = true;
    const timed = async <T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> => {
      const start = Date.now();
      try {
        const value = await call();
        outcomes.push({ ok: true, ms: Date.now() - start, at: Date.now() });
        return { ok: true, value };
      } catch (error) {
        outcomes.push({ ok: false, error, ms: Date.now() - start, at: Date.now() });
        await pause(20);
        return { ok: false };
      }
    };
    const worker = async (w: number) => {
      for (let n = 0; running; n++) {
        const post = await timed(() =>
          driver.messages.post('load', 'q', [{ body: { w, n } }, { body: { w, n, second: true } }], `w${w}`),
        );
        if (post.ok) posted.push(...post.value);
        const claim = await timed(() => driver.claims.create('load', 'q', { limit: 2, ttl: 60 }));
        if (!claim.ok || claim.value === null) continue;
        const claimId = claim.value.id;
        for (const m of claim.value.messages) {
          triedDeletes.add(m.id);
          const done = await timed(() => driver.messages.delete('load', 'q', m.id, { claimId }));
          if (done.ok) deleted.push(m.id);
        }
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));
    await waitUntil(() => posted.length >= 200, 10_000);

    const downAt = Date.now();
    await server.kill('SIGKILL');
    await waitUntil(() => outcomes.some((o) => !o.ok && o.at > downAt), 10_000);
    assert.equal(await driver.isAlive(), false, 'isAlive says false while Redis is down');
    await pause(1500);
    const failuresWhileDown = outcomes.filter((o) => !o.ok && o.at > downAt).length;

    const upAt = Date.now();
    await server.restart();
    await waitUntil(() => outcomes.filter((o) => o.ok && o.at > upAt).length >= 20, 15_000);
    const recoveredAt = outcomes.find((o) => o.ok && o.at > upAt)?.at as number;
    running = false;
    await Promise.all(workers);

    assert.ok(failuresWhileDown > 0, 'calls failed while Redis was down');
    for (const o of outcomes) {
      if (!o.ok) {
        assert.ok(
          o.error instanceof StorageUnavailableError,
          `a failure was ${String(o.error)}, not StorageUnavailableError`,
        );
      }
      assert.ok(o.ms < CALL_BOUND_MS, `a call took ${o.ms} ms`);
    }
    assert.ok(recoveredAt - upAt < 5000, `the driver worked again ${recoveredAt - upAt} ms after Redis returned`);
    assert.equal(await driver.isAlive(), true);
    t.diagnostic(
      `${outcomes.length} calls, ${failuresWhileDown} failed while down, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms, working again ${recoveredAt - upAt} ms after Redis returned`,
    );

    // With appendfsync always nothing acknowledged is lost: every acknowledged post that no
    // delete was tried on is still there; every acknowledged delete stays done.
    const kept = posted.filter((id) => !triedDeletes.has(id));
    for (let i = 0; i < kept.length; i += 20) {
      const chunk = kept.slice(i, i + 20);
      assert.equal(
        (await driver.messages.bulkGet('load', 'q', chunk)).length,
        chunk.length,
        'acknowledged posts survive',
      );
    }
    for (let i = 0; i < deleted.length; i += 20) {
      assert.deepEqual(await driver.messages.bulkGet('load', 'q', deleted.slice(i, i + 20)), []);
    }
  });

  it('a Redis that hangs (SIGSTOP) fails calls after the command timeout instead of hanging; SIGCONT and it works again', async () => {
    await driver.messages.post('hang', 'q', [{ body: 'before' }], 'c');
    await server.kill('SIGSTOP');
    try {
      const started = Date.now();
      let caught: unknown;
      try {
        await driver.messages.post('hang', 'q', [{ body: 'during' }], 'c');
      } catch (error) {
        caught = error;
      }
      const took = Date.now() - started;
      assert.ok(caught instanceof StorageUnavailableError, `expected StorageUnavailableError, got ${String(caught)}`);
      assert.ok(took >= COMMAND_TIMEOUT_MS - 50 && took < CALL_BOUND_MS, `failed after ${took} ms`);
      assert.equal(await driver.isAlive(), false);
    } finally {
      await server.kill('SIGCONT');
    }
    await waitUntil(async () => driver.isAlive(), 10_000);
    const popped = await driver.messages.pop('hang', 'q', 5);
    assert.equal(popped[0]?.body, 'before');
  });
});

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await pause(20);
  }
}
