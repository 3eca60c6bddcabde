import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { allIds } from '../../src/conformance/cases/messages.js';
import { StorageUnavailableError } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { freePort } from './redis/support.js';

/**
 * PostgreSQL stopped and started under load. The server is this test's own — initdb in a temp
 * folder, on a free port — so stopping it disturbs no other test or run on the machine (the
 * shared server at DATABASE_URL is never touched). The stop is `-m immediate`, a crash as far as
 * the server knows, so what survives is what its WAL had on disk: every acknowledged write must.
 */

const run = promisify(execFile);

/** Where initdb and pg_ctl are: pg_config's bindir, else the PATH. */
function postgresBin(name: string): string {
  const bindir = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  return bindir.status === 0 && bindir.stdout.trim() ? join(bindir.stdout.trim(), name) : name;
}

/** PostgreSQL refuses to run as root: as root, run it as the postgres user. */
const asRoot = process.getuid?.() === 0;
const DB_USER = asRoot ? 'postgres' : userInfo().username;

function runAsServerUser(command: string, args: string[]) {
  return asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
}

function unavailable(): string | null {
  const version = spawnSync(postgresBin('initdb'), ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return 'initdb is not installed';
  if (asRoot && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) return 'no postgres user to run it as';
  return null;
}

/** A PostgreSQL server of this test's own: a cluster in a temp folder, on a free port. */
class OwnPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-pg-restart-'));
    if (asRoot) {
      const { uid, gid } = userInfoOf('postgres');
      chownSync(dir, uid, gid);
    }
    await runAsServerUser(postgresBin('initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', DB_USER, '-E', 'UTF8']);
    // A port taken between freePort and the server's bind fails the start: try another.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new OwnPostgres(dir, await freePort());
      try {
        await server.start();
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `postgres://${DB_USER}@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts the server and resolves once it accepts connections (pg_ctl -w). */
  async start(): Promise<void> {
    await runAsServerUser(postgresBin('pg_ctl'), [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`,
      '-w',
      '-t',
      '120',
      'start',
    ]);
  }

  /** Stops it like a crash (`-m immediate`): no checkpoint, recovery from the WAL at the next start. */
  async crash(): Promise<void> {
    await runAsServerUser(postgresBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.crash().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function userInfoOf(name: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim();
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim();
  return { uid: Number(uid), gid: Number(gid) };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long the load may take to reach a state the test waits for, on a busy machine. */
const DEADLINE_MS = 60_000;

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await pause(20);
  }
}

interface Load {
  posted: string[];
  claimed: Set<string>;
  /** Ids whose delete was about to be sent: such a message may be gone without an acknowledgement. */
  deleting: Set<string>;
  deleted: Set<string>;
  /** StorageUnavailableError failures, by loop (producers 0 and 1, consumers 2 and 3). */
  unavailable: number[];
  unexpected: unknown[];
  stop(): Promise<void>;
}

/** Two producers and two consumers on one queue, recording what was acknowledged. */
function startLoad(driver: DataDriver, project: string): Load {
  const load: Load = {
    posted: [],
    claimed: new Set(),
    deleting: new Set(),
    deleted: new Set(),
    unavailable: [0, 0, 0, 0],
    unexpected: [],
    stop: async () => {},
  };
  let running = true;
  const guard = async (loop: number, call: () => Promise<void>) => {
    try {
      await call();
    } catch (error) {
      if (error instanceof StorageUnavailableError) load.unavailable[loop] = (load.unavailable[loop] ?? 0) + 1;
      else load.unexpected.push(error);
      await pause(20);
    }
  };
  const producer = async (p: number) => {
    for (let n = 0; running; n++) {
      await guard(p, async () => {
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
  const consumer = async (loop: number) => {
    while (running) {
      await guard(loop, async () => {
        const claim = await driver.claims.create(project, 'q', { limit: 4, ttl: 120 });
        if (!claim) return;
        for (const m of claim.messages) load.claimed.add(m.id);
        const ids = claim.messages.map((m) => m.id);
        for (const id of ids) load.deleting.add(id);
        await driver.messages.bulkDelete(project, 'q', ids, { claimIds: [claim.id] });
        for (const id of ids) load.deleted.add(id);
      });
    }
  };
  const loops = Promise.all([producer(0), producer(1), consumer(2), consumer(3)]);
  load.stop = async () => {
    running = false;
    await loops;
  };
  return load;
}

describe('postgres: the server stops and starts under load', () => {
  const reason = unavailable();
  let server: OwnPostgres | undefined;
  after(async () => {
    await server?.destroy();
  });

  it('calls fail with StorageUnavailableError while it is down, work again after, and nothing acknowledged is lost', {
    timeout: 300_000,
  }, async (t) => {
    if (reason) {
      if (process.env.CI === 'true') throw new Error(`cannot run a PostgreSQL server of its own here: ${reason}`);
      t.skip(reason);
      return;
    }
    server = await OwnPostgres.create();
    const QUERY_TIMEOUT_MS = 10_000;
    const driver = await createPostgresDriver({
      url: server.url,
      schema: 'restart',
      pool: { connectionTimeoutMillis: 2000, query_timeout: QUERY_TIMEOUT_MS },
      logger: { warn: () => {} },
    });
    const project = 'restart';
    await driver.queues.create(project, 'q');
    const load = startLoad(driver, project);
    try {
      await until(() => load.deleted.size >= 50, '50 acknowledged deletes before the stop');

      await server.crash();
      const postedAtStop = load.posted.length;
      const seenBefore = [...load.unavailable];
      try {
        // A call while the server is away fails at once (the connection is refused), not after
        // the query timeout.
        for (const call of [
          () => driver.messages.post(project, 'q', [{ body: 'down' }], 'c'),
          () => driver.claims.create(project, 'q'),
        ]) {
          const started = Date.now();
          await assert.rejects(call(), StorageUnavailableError);
          const took = Date.now() - started;
          assert.ok(took < QUERY_TIMEOUT_MS, `a call failed only after ${took} ms, as late as the query timeout`);
        }
        assert.equal(await driver.isAlive(), false);
        // Down until each of the four loops has seen the outage.
        await until(
          () => load.unavailable.every((n, loop) => n > (seenBefore[loop] ?? 0)),
          'every loop of the load to fail while the server is down',
        );
      } finally {
        await server.start();
      }

      // The driver comes back by itself.
      await until(() => driver.isAlive(), 'the driver to work again by itself');
      const resumed = load.posted.length;
      await until(
        () => load.posted.length >= resumed + 50 && load.deleted.size >= 100,
        'posts and deletes acknowledged after the restart',
      );
      await load.stop();

      assert.deepEqual(load.unexpected, [], 'only StorageUnavailableError while the server was away');
      assert.ok(load.posted.length > postedAtStop, 'posts were acknowledged again after the restart');

      const present = await allIds(driver, project, 'q', { includeDelayed: true });
      const presentSet = new Set(present);
      assert.equal(presentSet.size, present.length, 'no message stored twice');
      // Absent without an acknowledged delete: only a message whose delete was sent when the
      // server went away (it may have committed).
      const lost = load.posted.filter((id) => !presentSet.has(id) && !load.deleted.has(id) && !load.deleting.has(id));
      assert.deepEqual(lost, [], 'no acknowledged post was lost');
      const back = [...load.deleted].filter((id) => presentSet.has(id));
      assert.deepEqual(back, [], 'no acknowledged delete came back');
      for (const id of load.deleting) assert.ok(load.claimed.has(id), 'deletes are sent for claimed messages only');
    } finally {
      await load.stop();
      await driver.close();
    }
  });
});
