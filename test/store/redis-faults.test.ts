/**
 * A Redis that goes away while the driver is busy, on a server this test starts itself with
 * appendfsync always: while it is down every call fails with StorageUnavailableError (none
 * hangs), isAlive says false; once it is back the same driver works again by itself, and nothing
 * acknowledged was lost. Also a Redis that hangs (SIGSTOP) rather than dies: a call fails once
 * the command timeout has passed, not before.
 *
 * Wall-clock limits here are deadlines for a busy machine (a call that takes HANG_MS hangs; the
 * driver's own deadline is commandTimeoutMs + 1 s), never measures of speed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { StorageUnavailableError, silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { RedisServer, redisBinariesPresent, suiteNeeding } from './redis/support.js';

const binaries = await redisBinariesPresent();
const COMMAND_TIMEOUT_MS = 1000;
/** A call still unsettled after this long hangs (the driver gives up after COMMAND_TIMEOUT_MS + 1 s). */
const HANG_MS = 30_000;
/** How long the load may take to reach a state the test waits for, on a busy machine. */
const DEADLINE_MS = 60_000;

interface Outcome {
  worker: number;
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
    const timed = async <T>(
      worker: number,
      call: () => Promise<T>,
    ): Promise<{ ok: true; value: T } | { ok: false }> => {
      const start = Date.now();
      try {
        const value = await call();
        outcomes.push({ worker, ok: true, ms: Date.now() - start, at: Date.now() });
        return { ok: true, value };
      } catch (error) {
        outcomes.push({ worker, ok: false, error, ms: Date.now() - start, at: Date.now() });
        await pause(20);
        return { ok: false };
      }
    };
    const worker = async (w: number) => {
      for (let n = 0; running; n++) {
        const post = await timed(w, () =>
          driver.messages.post('load', 'q', [{ body: { w, n } }, { body: { w, n, second: true } }], `w${w}`),
        );
        if (post.ok) posted.push(...post.value);
        const claim = await timed(w, () => driver.claims.create('load', 'q', { limit: 2, ttl: 60 }));
        if (!claim.ok || claim.value === null) continue;
        const claimId = claim.value.id;
        for (const m of claim.value.messages) {
          triedDeletes.add(m.id);
          const done = await timed(w, () => driver.messages.delete('load', 'q', m.id, { claimId }));
          if (done.ok) deleted.push(m.id);
        }
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));
    await waitUntil(() => posted.length >= 200, DEADLINE_MS, '200 acknowledged posts');

    await server.kill('SIGKILL');
    const downAt = Date.now();
    // Down until every worker has had two calls fail: each went on after a failure instead of hanging.
    const failedWhileDown = (w: number) => outcomes.filter((o) => o.worker === w && !o.ok && o.at >= downAt).length;
    await waitUntil(
      () => [0, 1, 2, 3].every((w) => failedWhileDown(w) >= 2),
      DEADLINE_MS,
      'two failed calls from every worker while Redis is down',
    );
    assert.equal(await driver.isAlive(), false, 'isAlive says false while Redis is down');
    const failuresWhileDown = outcomes.filter((o) => !o.ok && o.at >= downAt).length;

    await server.restart();
    const upAt = Date.now();
    await waitUntil(
      () => outcomes.filter((o) => o.ok && o.at > upAt).length >= 20,
      DEADLINE_MS,
      'the driver to work again by itself',
    );
    const recoveredAt = outcomes.find((o) => o.ok && o.at > upAt)?.at as number;
    running = false;
    await Promise.all(workers);

    for (const o of outcomes) {
      if (!o.ok) {
        assert.ok(
          o.error instanceof StorageUnavailableError,
          `a failure was ${String(o.error)}, not StorageUnavailableError`,
        );
      }
      assert.ok(o.ms < HANG_MS, `a call took ${o.ms} ms: it hung`);
    }
    assert.equal(await driver.isAlive(), true);
    t.diagnostic(
      `${outcomes.length} calls, ${failuresWhileDown} failed while down, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms, working again ${recoveredAt - upAt} ms after Redis answered`,
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
      // A timer of the command timeout's length set just before the call: ioredis's own, set
      // later in the same or a later turn, cannot fire before it.
      let timeoutPassed = false;
      const reference = setTimeout(() => {
        timeoutPassed = true;
      }, COMMAND_TIMEOUT_MS);
      const started = Date.now();
      let caught: unknown;
      try {
        await driver.messages.post('hang', 'q', [{ body: 'during' }], 'c');
      } catch (error) {
        caught = error;
      }
      clearTimeout(reference);
      const took = Date.now() - started;
      assert.ok(caught instanceof StorageUnavailableError, `expected StorageUnavailableError, got ${String(caught)}`);
      assert.ok(timeoutPassed, `failed after ${took} ms, before the command timeout had passed`);
      assert.ok(took < HANG_MS, `failed only after ${took} ms: it hung`);
      assert.equal(await driver.isAlive(), false);
    } finally {
      await server.kill('SIGCONT');
    }
    await waitUntil(async () => driver.isAlive(), DEADLINE_MS, 'isAlive after SIGCONT');
    const popped = await driver.messages.pop('hang', 'q', 5);
    assert.equal(popped[0]?.body, 'before');
  });
});

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(20);
  }
}
