import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type PosthornClient, RequestFailedError, type WsSubscription } from '../../src/entry/client.js';
import { removeFolder, serveForClient, type TestServer } from './serve.js';

const MESSAGES = 240;
const PRODUCERS = 4;
/** The server is killed (SIGKILL) and started again on the same port and folder when this many posts were answered. */
const RESTART_AT = [80, 160];

/**
 * A producer posts MESSAGES messages, each with its own Idempotency-Key, from PRODUCERS
 * concurrent loops, while `posthorn serve` (disk store) is killed and restarted twice under it.
 * Posts in flight at a kill fail with a cut connection and the ones sent while the server is
 * down are refused: the client retries them (a keyed POST is safe to retry). Afterwards every
 * key's message must be there — exactly once, because a retried post whose first try was stored
 * just before the kill is answered by the server with the first ids, not stored again.
 */
describe('client: a producer across server restarts', { timeout: 300_000 }, () => {
  let server: TestServer;
  let client: PosthornClient;
  /** The ids each key's post was answered with. */
  const answered = new Map<number, string[]>();
  const restarts: number[] = [];
  /** Every message of the queue after the run, as (key number, id). */
  const stored: { key: number; id: string }[] = [];
  /** A WebSocket subscription open before the first kill, and how its iteration ended. */
  let subscription: WsSubscription;
  let pushedBeforeKill = 0;
  let subscriptionEnd: unknown = null;

  before(async () => {
    server = await serveForClient();
    client = createClient({
      url: server.url,
      project: 'restart',
      // Enough for two restarts of a server started through tsx on a busy machine (~50 s).
      retry: { retries: 250, minDelayMs: 20, maxDelayMs: 200 },
    });
    const q = client.queue('restart-q');
    await q.create();
    subscription = await client.subscribe('restart-q');
    const drained = (async () => {
      try {
        for await (const _ of subscription) pushedBeforeKill++;
      } catch (error) {
        subscriptionEnd = error;
      }
    })();
    let next = 0;
    let restarting: Promise<void> | null = null;
    const restartWhenDue = () => {
      const due = RESTART_AT[restarts.length];
      if (due === undefined || answered.size < due || restarting !== null) return;
      restarts.push(answered.size);
      restarting = (async () => {
        await server.process.stop('SIGKILL');
        server = await serveForClient({}, { dir: server.dir, port: server.port });
        restarting = null;
      })();
    };
    const producer = async () => {
      for (let i = next++; i < MESSAGES; i = next++) {
        const ids = await q.post([{ body: { key: i }, ttl: 3600 }], { idempotencyKey: `key-${i}` });
        answered.set(i, ids);
        restartWhenDue();
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, producer));
    // A restart begun by the last posts is waited for, so that the folder is not removed under it.
    while (restarting !== null) await restarting;
    await drained;
    for await (const m of q.messages({ echo: true, limit: 20 })) {
      stored.push({ key: (m.body as { key: number }).key, id: m.id });
    }
  });

  after(async () => {
    await client?.close();
    await server?.process.stop();
    if (server) removeFolder(server.dir);
  });

  it('the posts outlive two kills: retries happened, and every key has its message under an id it was answered', (t) => {
    t.diagnostic(`restarted after ${restarts.join(' and ')} answered posts; ${client.transport.retriesMade} retries`);
    assert.deepEqual(restarts.length, RESTART_AT.length, 'the server was restarted twice');
    assert.ok(client.transport.retriesMade > 0, 'posts were retried while the server was down');
    assert.equal(answered.size, MESSAGES);
    const storedIds = new Set(stored.map((s) => s.id));
    const byKey = new Map<number, string[]>();
    for (const s of stored) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s.id]);
    for (let i = 0; i < MESSAGES; i++) {
      const ids = answered.get(i) ?? [];
      assert.equal(ids.length, 1, `key ${i} was answered one id`);
      assert.ok(storedIds.has(ids[0] as string), `the id answered for key ${i} is stored`);
      assert.ok((byKey.get(i)?.length ?? 0) >= 1, `key ${i} has a message`);
    }
  });

  it('a WebSocket subscription whose server was killed ends its iteration with RequestFailedError', () => {
    assert.ok(subscriptionEnd instanceof RequestFailedError, String(subscriptionEnd));
    assert.match(subscriptionEnd.message, /closed by the server/);
    assert.ok(pushedBeforeKill <= (RESTART_AT[0] ?? 0) + PRODUCERS, `${pushedBeforeKill} pushes came before the kill`);
  });

  it('every key has exactly one message, and a repeat of a key answers the first id and stores nothing', async () => {
    const counts = new Map<number, number>();
    for (const s of stored) counts.set(s.key, (counts.get(s.key) ?? 0) + 1);
    const repeated = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `key-${key} x${n}`);
    assert.deepEqual(repeated, [], 'no key was stored twice');
    assert.equal(stored.length, MESSAGES);
    // Deterministic, whatever the kills hit: a repeat after the restarts is deduplicated too.
    const q = client.queue('restart-q');
    const again = await q.post([{ body: { key: 0 }, ttl: 3600 }], { idempotencyKey: 'key-0' });
    assert.deepEqual(again, answered.get(0));
    assert.equal((await q.stats()).total, MESSAGES);
  });
});
