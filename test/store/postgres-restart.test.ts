import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { StorageUnavailableError } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver, parsePostgresUri } from '../../src/store/postgres/index.js';
import { adminQuery, DATABASE_URL, dropSchema, freshSchema, probePostgres, withPostgres } from './postgres-support.js';

/**
 * PostgreSQL stopped and started under load, with this machine's own commands (DEVELOPERS.md).
 * The stop is `-m immediate`, a crash as far as the server knows, so what survives is what its
 * WAL had on disk: every acknowledged write must. The outage is kept to about a second, and the
 * server is started again whatever happens to the test.
 */

const clusterVersion = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql')[0] : undefined;

function controllable(): string | null {
  const host = parsePostgresUri(DATABASE_URL).pool.host ?? 'localhost';
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) return `DATABASE_URL names ${host}, not this machine`;
  if (!clusterVersion) return 'no cluster under /etc/postgresql';
  if (spawnSync('pg_ctlcluster', ['--help'], { stdio: 'ignore' }).error) return 'pg_ctlcluster is not installed';
  return null;
}

function cluster(action: 'start' | 'stop'): void {
  const args = ['--skip-systemctl-redirect', ...(action === 'stop' ? ['-m', 'immediate'] : []), String(clusterVersion)];
  const run = spawnSync('pg_ctlcluster', [...args, 'main', action], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`pg_ctlcluster ${action} failed: ${run.stderr || run.stdout || run.error}`);
}

async function ensureRunning(): Promise<void> {
  if ((await probePostgres()) === null) return;
  try {
    cluster('start');
  } catch {
    // Already starting, or started by someone else meanwhile: wait for it below.
  }
  for (let i = 0; i < 100 && (await probePostgres()) !== null; i++) await pause(200);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const APPLICATION = 'posthorn-restart-test';

/**
 * The server is shared; wait up to 10 s for a moment when no other client is connected, so a
 * run beside this one is less likely to see the outage. Then go ahead regardless.
 */
async function waitForQuiet(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const others = await adminQuery<{ n: number }>(
      `SELECT count(*)::integer AS n FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1`,
      [APPLICATION],
    );
    if ((others.rows[0]?.n ?? 0) === 0) return;
    await pause(100);
  }
}

interface Load {
  posted: string[];
  claimed: Set<string>;
  deleted: Set<string>;
  unavailable: number;
  unexpected: unknown[];
  stop(): Promise<void>;
}

/** Two producers and two consumers on one queue, recording what was acknowledged. */
function startLoad(driver: DataDriver, project: string): Load {
  const load: Load = {
    posted: [],
    claimed: new Set(),
    deleted: new Set(),
    unavailable: 0,
    unexpected: [],
    stop: async () => {},
  };
  let running = true;
  const guard = async (call: () => Promise<void>) => {
    try {
      await call();
    } catch (error) {
      if (error instanceof StorageUnavailableError) load.unavailable++;
      else load.unexpected.push(error);
      await pause(20);
    }
  };
  const producer = async (p: number) => {
    for (let n = 0; running; n++) {
      await guard(async () => {
        const ids = await driver.messages.post(
          project,
          'q',
          [{ body: { p, n } }, { body: { p, n, second: true } }],
          'c',
        );
        load.posted.push(...ids);
      });
    }
  };
  const consumer = async () => {
    while (running) {
      await guard(async () => {
        const claim = await driver.claims.create(project, 'q', { limit: 4, ttl: 120 });
        if (!claim) return void (await pause(5));
        for (const m of claim.messages) load.claimed.add(m.id);
        const ids = claim.messages.map((m) => m.id);
        await driver.messages.bulkDelete(project, 'q', ids, { claimIds: [claim.id] });
        for (const id of ids) load.deleted.add(id);
      });
    }
  };
  const loops = Promise.all([producer(0), producer(1), consumer(), consumer()]);
  load.stop = async () => {
    running = false;
    await loops;
  };
  return load;
}

await withPostgres('postgres: server restart', () => {
  describe('postgres: the server stops and starts under load', () => {
    const reason = controllable();
    const schema = freshSchema('restart');
    after(async () => {
      await ensureRunning();
      await dropSchema(schema).catch(() => {});
    });

    it('calls fail with StorageUnavailableError while it is down, work again after, and nothing acknowledged is lost', async (t) => {
      if (reason) {
        if (process.env.CI === 'true') throw new Error(`cannot stop and start PostgreSQL here: ${reason}`);
        t.skip(reason);
        return;
      }
      const driver = await createPostgresDriver({
        url: DATABASE_URL,
        schema,
        pool: { connectionTimeoutMillis: 2000, query_timeout: 10_000, application_name: APPLICATION },
        logger: { warn: () => {} },
      });
      const project = 'restart';
      await driver.queues.create(project, 'q');
      const load = startLoad(driver, project);
      try {
        while (load.deleted.size < 50) await pause(20);

        await waitForQuiet();
        cluster('stop');
        const postedAtStop = load.posted.length;
        try {
          const started = Date.now();
          await assert.rejects(driver.messages.post(project, 'q', [{ body: 'down' }], 'c'), StorageUnavailableError);
          await assert.rejects(driver.claims.create(project, 'q'), StorageUnavailableError);
          assert.ok(Date.now() - started < 5000, 'failures come quickly, not after long timeouts');
          assert.equal(await driver.isAlive(), false);
          await pause(700);
        } finally {
          cluster('start');
        }

        // The driver comes back by itself.
        const deadline = Date.now() + 30_000;
        while (!(await driver.isAlive())) {
          assert.ok(Date.now() < deadline, 'the driver did not recover within 30 s');
          await pause(100);
        }
        const resumed = load.posted.length;
        while (load.posted.length < resumed + 50 || load.deleted.size < 100) await pause(20);
        await load.stop();

        assert.deepEqual(load.unexpected, [], 'only StorageUnavailableError while the server was away');
        assert.ok(load.unavailable > 0, 'the load saw the outage');
        assert.ok(load.posted.length > postedAtStop, 'posts were acknowledged again after the restart');

        const present = await allIds(driver, project, 'q', { includeDelayed: true });
        const presentSet = new Set(present);
        assert.equal(presentSet.size, present.length, 'no message stored twice');
        const lost = load.posted.filter((id) => !presentSet.has(id) && !load.deleted.has(id) && !load.claimed.has(id));
        assert.deepEqual(lost, [], 'no acknowledged post was lost');
        const back = [...load.deleted].filter((id) => presentSet.has(id));
        assert.deepEqual(back, [], 'no acknowledged delete came back');
      } finally {
        await load.stop();
        await ensureRunning();
        await driver.close();
      }
    });
  });
});
