import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { ManagementStore, openPoolDriver } from '../../src/pool/index.js';
import { type ServeProcess, startServeProcess } from '../interop/serve-process.js';
import { DATABASE_URL, probePostgres } from '../store/postgres-support.js';
import { REDIS_URL, redisAnswers, suiteNeeding } from '../store/redis/support.js';
import { call, Ledger, Resources, runCli, TOKEN, writeConfig } from './processes.js';
import { POOL_LIMITS } from './support.js';

/**
 * `posthorn queue move` with real processes: two servers share a PostgreSQL catalogue, a queue
 * moves from a Redis pool to a PostgreSQL pool while producers post and consumers claim through
 * both, and the ledger shows every acknowledged message delivered exactly once. Then the server
 * running a move is SIGKILLed, and the same command against the other server resumes it.
 */

const postgresProblem = await probePostgres();
const reason =
  postgresProblem !== null
    ? `PostgreSQL at ${DATABASE_URL} is not reachable (${postgresProblem})`
    : !(await redisAnswers(REDIS_URL))
      ? `Redis at ${REDIS_URL} is not reachable`
      : null;

/** How long the servers may take to reach a state the test waits for, on a busy machine. */
const DEADLINE_MS = 90_000;

/** Polls `probe` until `done` says so; fails with the last value after DEADLINE_MS. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface HeldClaim {
  messages: { body: { n: number }; href: string }[];
}

suiteNeeding('pool: posthorn queue move between real servers', reason, () => {
  const resources = new Resources();
  const processes: ServeProcess[] = [];
  after(async () => {
    for (const p of processes) await p.stop('SIGKILL').catch(() => {});
    await resources.cleanup();
  });

  async function servers() {
    const settings = {
      catalog: resources.postgres('mcat'),
      pools: [
        { name: 'red', uri: resources.redis(), weight: 1 },
        { name: 'pg', uri: resources.postgres('mpool'), weight: 0 },
      ],
    };
    const started = await Promise.all(
      ['a', 'b'].map((label) => startServeProcess(['--config', writeConfig(resources.dir(label), settings)])),
    );
    processes.push(...started);
    return { a: started[0] as ServeProcess, b: started[1] as ServeProcess, catalog: settings.catalog };
  }

  async function routeOf(catalog: string, queue: string) {
    const management = await openPoolDriver(catalog, { limits: POOL_LIMITS, logger: silentLogger });
    try {
      return await new ManagementStore(management).getRoute('procs', queue);
    } finally {
      await management.close();
    }
  }

  async function moveStatus(url: string, queue: string) {
    return (await call(url, 'GET', `/v2/queues/${queue}/move`)).json;
  }

  it('moves a live queue while producers and consumers work through both servers: every message once', {
    timeout: 300_000,
  }, async () => {
    const { a, b, catalog } = await servers();
    const ledger = new Ledger();
    assert.equal((await call(a.url, 'PUT', '/v2/queues/live')).status, 201);
    assert.deepEqual(await routeOf(catalog, 'live'), { pool: 'red' });
    for (let i = 0; i < 20; i++) await ledger.post(i % 2 ? a.url : b.url, 'live', 25); // 500 waiting
    // A consumer's claim made before the move, finished in the middle of it.
    const early = await call(b.url, 'POST', '/v2/queues/live/claims?limit=5', { ttl: 300, grace: 60 });
    assert.equal(early.status, 201);
    const held = early.json as unknown as HeldClaim;

    let producing = true;
    const producer = (async () => {
      for (let k = 0; producing; k++) {
        await ledger.post(k % 2 ? a.url : b.url, 'live', 5);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let draining = false;
    const consumers = [ledger.consume(a.url, 'live', () => draining), ledger.consume(b.url, 'live', () => draining)];
    const move = runCli(['queue', 'move', 'procs/live', '--to', 'pg', '--url', a.url, '--admin-token', TOKEN]);
    // The move cannot end while the early claim holds messages in the source.
    await until(
      () => moveStatus(b.url, 'live'),
      (status) => status.status === 'running',
      'the move to run',
    );
    // The early claim is still valid while the queue moves: its messages are deleted with it, through the other server.
    for (const m of held.messages) {
      assert.equal((await call(a.url, 'DELETE', m.href)).status, 204);
      ledger.seen.set(m.body.n, (ledger.seen.get(m.body.n) ?? 0) + 1);
    }
    const { code, output } = await move;
    assert.equal(code, 0, output);
    assert.match(output, /copying: \d+ copied to pg/);
    assert.match(output, /done: procs\/live is in pool pg \(\d+ messages copied from red/);
    // Keep posting and claiming on the new route: 50 more messages acknowledged after the move.
    const afterMove = ledger.acked.size + 50;
    await until(
      async () => ledger.acked.size,
      (acked) => acked >= afterMove,
      'posts on the new route',
    );
    producing = false;
    await producer;
    draining = true;
    await Promise.all(consumers);
    assert.deepEqual(ledger.check(), { twice: [], lost: [] });
    assert.ok(ledger.acked.size > 500);
    assert.deepEqual(await routeOf(catalog, 'live'), { pool: 'pg' });
    const done = await moveStatus(b.url, 'live');
    assert.equal(done.status, 'done');
    assert.equal(done.released_claims, 0);
  });

  it('resumes a move whose server was SIGKILLed, from the other server, with claims in flight still valid', {
    timeout: 300_000,
  }, async () => {
    const { a, b, catalog } = await servers();
    const ledger = new Ledger();
    for (let i = 0; i < 6; i++) await ledger.post(b.url, 'crash', 50);
    // This claim keeps the move waiting in its draining step until the claim is finished.
    const early = await call(b.url, 'POST', '/v2/queues/crash/claims?limit=5', { ttl: 300, grace: 60 });
    const held = early.json as unknown as HeldClaim;
    const first = runCli(['queue', 'move', 'procs/crash', '--to', 'pg', '--url', a.url, '--admin-token', TOKEN]);
    await until(
      () => moveStatus(b.url, 'crash'),
      (status) => status.step === 'draining' && ((status.source as { claimed: number } | undefined)?.claimed ?? 0) > 0,
      'the move to drain, waiting for the claim',
    );
    await a.stop('SIGKILL');
    const killedAt = Date.now();
    const stopped = await first;
    assert.equal(stopped.code, 1);
    assert.match(stopped.output, /cannot reach/);

    let draining = false;
    const consumer = ledger.consume(b.url, 'crash', () => draining);
    const second = runCli(['queue', 'move', 'procs/crash', '--to', 'pg', '--url', b.url, '--admin-token', TOKEN]);
    // Once the dead server's lease has lapsed, the other server takes the move over: the record is
    // running, worked on, and updated after the kill (the dead server cannot have written that).
    await until(
      () => moveStatus(b.url, 'crash'),
      (status) =>
        status.status === 'running' && status.active === true && Date.parse(status.updated as string) > killedAt,
      'the other server to take the move over',
    );
    for (const m of held.messages) {
      assert.equal((await call(b.url, 'DELETE', m.href)).status, 204, 'the claim made before the crash still holds');
      ledger.seen.set(m.body.n, (ledger.seen.get(m.body.n) ?? 0) + 1);
    }
    const resumed = await second;
    assert.equal(resumed.code, 0, resumed.output);
    assert.match(resumed.output, /done: procs\/crash is in pool pg/);
    await ledger.post(b.url, 'crash', 10);
    draining = true;
    await consumer;
    assert.deepEqual(ledger.check(), { twice: [], lost: [] });
    assert.equal(ledger.acked.size, 310);
    assert.deepEqual(await routeOf(catalog, 'crash'), { pool: 'pg' });
  });
});
