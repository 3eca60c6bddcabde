/**
 * The Redis driver on a Redis Cluster of three masters that this test starts itself (three
 * redis-server processes with cluster-enabled yes on free ports in temp folders, joined by
 * `redis-cli --cluster create`) and stops after: the whole conformance suite, proof that every
 * key of a project lies in one slot while projects spread over the masters, and the
 * `redis+cluster://` URI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { conformanceCases, runConformance } from '../../src/conformance/index.js';
import { FakeClock, StorageUnavailableError, silentLogger } from '../../src/core/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import {
  deleteKeys,
  listKeys,
  RedisCluster,
  redisBinariesPresent,
  redisTarget,
  suiteNeeding,
  uniquePrefix,
} from './redis/support.js';

const binaries = await redisBinariesPresent();
/** A call still unsettled after this long hangs (the driver gives up after commandTimeoutMs + 1 s). */
const HANG_MS = 30_000;
/** How long the cluster may take to reach a state the test waits for, on a busy machine. */
const DEADLINE_MS = 60_000;

suiteNeeding('redis cluster (three masters started here)', binaries ? null : 'redis-server is not installed', () => {
  let cluster: RedisCluster;
  let admin: Cluster;
  let nodes: string[] = [];

  before(async () => {
    cluster = await RedisCluster.start();
    nodes = cluster.nodes;
    admin = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })));
    await new Promise<void>((resolve, reject) => {
      admin.once('ready', () => resolve());
      admin.once('error', reject);
    });
  });
  after(async () => {
    await admin?.quit();
    await cluster?.stop();
  });

  runConformance(
    redisTarget(
      'redis-cluster',
      {
        get nodes() {
          return nodes;
        },
      },
      () => admin,
    ),
    conformanceCases,
  );

  describe('slots', () => {
    it('every key of a project lies in one slot on one master, and projects spread over the masters', async () => {
      const keyPrefix = uniquePrefix();
      const driver = await createRedisDriver({
        url: `redis+cluster://${nodes.join(',')}`,
        clock: new FakeClock(),
        keyPrefix,
        logger: silentLogger,
      });
      try {
        const projects = Array.from({ length: 12 }, (_, i) => `tenant-${i}`);
        for (const project of projects) {
          await driver.queues.create(project, 'work', { _max_claim_count: 1, _dead_letter_queue: 'dead' });
          await driver.messages.post(project, 'work', [{ body: 1 }, { body: 2, delay: 30 }], 'c');
          const claim = await driver.claims.create(project, 'work', { limit: 1, ttl: 60 });
          assert.equal(claim?.messages.length, 1);
          await driver.subscriptions.create(project, 'work', 'http://hook.test/');
        }
        const masters = admin.nodes('master');
        const homes = new Map<string, Set<string>>();
        for (const node of masters) {
          const where = `${node.options.host}:${node.options.port}`;
          for (const key of await listKeys(node, keyPrefix)) {
            const project = /\{([^}]*)\}/.exec(key)?.[1];
            if (project === undefined) continue;
            const slot = await admin.cluster('KEYSLOT', key);
            const home = homes.get(project) ?? new Set<string>();
            home.add(`${where}#${slot}`);
            homes.set(project, home);
          }
        }
        assert.equal(homes.size, projects.length, 'every project has keys');
        for (const [project, home] of homes) {
          assert.equal(home.size, 1, `project ${project} lives in one slot on one master, found ${[...home]}`);
        }
        const used = new Set([...homes.values()].map((h) => [...h][0]?.split('#')[0]));
        assert.ok(used.size >= 2, `12 projects should land on more than one of 3 masters, got ${[...used]}`);
      } finally {
        await driver.close();
        await deleteKeys(admin, keyPrefix);
      }
    });
  });

  // Last: it stops a master. Every failure is typed and bounded, projects on the other masters
  // keep working throughout, and once the master is back every project works again by itself.
  describe('a master that dies and comes back', () => {
    it('fails only its own projects, with StorageUnavailableError, and recovers by itself', async (t) => {
      const keyPrefix = uniquePrefix();
      const driver = await createRedisDriver({
        nodes,
        keyPrefix,
        logger: silentLogger,
        commandTimeoutMs: 1000,
      });
      const victim = cluster.servers[0] as (typeof cluster.servers)[number];
      // Pick projects so that the victim owns some and the other masters own some.
      const slots = await admin.cluster('SLOTS');
      const portOf = async (project: string) => {
        const slot = (await admin.cluster('KEYSLOT', `${keyPrefix}{${project}}:queues`)) as number;
        return slots.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
      };
      const projects: string[] = [];
      let onVictim = 0;
      for (let i = 0; projects.length < 9 || onVictim < 3 || projects.length - onVictim < 3; i++) {
        const project = `tenant-${i}`;
        const mine = (await portOf(project)) === victim.port;
        if ((mine && onVictim >= 3) || (!mine && projects.length - onVictim >= 6)) continue;
        projects.push(project);
        if (mine) onVictim++;
      }
      const round = () =>
        Promise.all(
          projects.map(async (p) => {
            const started = Date.now();
            try {
              await driver.messages.post(p, 'q', [{ body: 'x' }], 'c');
              return { ok: true, ms: Date.now() - started };
            } catch (error) {
              assert.ok(error instanceof StorageUnavailableError, `got ${String(error)}`);
              return { ok: false, ms: Date.now() - started };
            }
          }),
        );
      // A surviving master's view of the victim: 'fail' once the cluster has declared it failed.
      const survivor = cluster.servers[1] as (typeof cluster.servers)[number];
      const probe = new Redis(survivor.url, { maxRetriesPerRequest: 1 });
      probe.on('error', () => {});
      const victimFailed = async () => {
        const nodesInfo = (await probe.cluster('NODES')) as string;
        const line = nodesInfo.split('\n').find((l) => l.includes(`:${victim.port}@`));
        return (line?.split(' ')[2] ?? '').split(',').includes('fail'); // not 'fail?': only suspected
      };
      const checkRound = async () => {
        const results = await round();
        for (const r of results) assert.ok(r.ms < HANG_MS, `a call took ${r.ms} ms: it hung`);
        const failed = results.filter((r) => !r.ok).length;
        assert.ok(failed > 0 && failed <= onVictim, `${failed} projects failed; ${onVictim} live on the dead master`);
      };
      try {
        assert.ok((await round()).every((r) => r.ok));
        await victim.kill('SIGKILL');
        let rounds = 0;
        // Rounds until the cluster has declared the master failed (after its node timeout), then
        // two more: before and after the failure, only the dead master's projects fail.
        const deadline = Date.now() + DEADLINE_MS;
        while (!(await victimFailed())) {
          assert.ok(Date.now() < deadline, 'the cluster did not declare the dead master failed');
          await checkRound();
          rounds++;
        }
        for (let i = 0; i < 2; i++, rounds++) await checkRound();
        await victim.restart();
        const upStart = Date.now();
        for (;;) {
          if ((await round()).every((r) => r.ok)) break;
          assert.ok(Date.now() - upStart < DEADLINE_MS, 'every project works again by itself');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        t.diagnostic(`${rounds} rounds while down; all projects working ${Date.now() - upStart} ms after the restart`);
      } finally {
        probe.disconnect();
        await driver.close();
        await deleteKeys(admin, keyPrefix);
      }
    });
  });
});
