/**
 * Durability and configuration on Redis servers this test starts itself:
 * - with `appendonly yes` and `appendfsync always` the driver declares DURABILITY, and the
 *   conformance suite's durability case passes with a reopen that SIGKILLs redis-server and
 *   starts it again from its append-only file;
 * - a child process posts and deletes while writing every acknowledged step to a side file;
 *   redis-server is SIGKILLed mid-stream and restarted: every acknowledged post is there, every
 *   acknowledged delete stays done;
 * - a Redis that may evict keys is refused (also when CONFIG is renamed away), and a Redis
 *   without CONFIG is used without DURABILITY and with a warning saying why.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Redis } from 'ioredis';
import { conformanceCases, rejectsWith, runConformance } from '../../src/conformance/index.js';
import { StorageMisconfiguredError, silentLogger } from '../../src/core/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { RedisServer, recordingLogger, redisBinariesPresent, redisTarget, suiteNeeding } from './redis/support.js';

const DURABLE = ['--appendonly', 'yes', '--appendfsync', 'always'];
const poster = new URL('../fixtures/redis-acked-poster.ts', import.meta.url).pathname;
const binaries = await redisBinariesPresent();

suiteNeeding('redis with appendfsync always (started here)', binaries ? null : 'redis-server is not installed', () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await RedisServer.start(DURABLE, 'durable');
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('declares DURABILITY and warns about nothing', async () => {
    const logger = recordingLogger();
    const driver = await createRedisDriver({ url: server.url, logger, keyPrefix: 'cap:' });
    try {
      assert.deepEqual([...driver.capabilities].sort(), ['AOD', 'CLAIMS', 'DURABILITY', 'FIFO', 'HIGH_THROUGHPUT']);
      assert.deepEqual(logger.warnings, []);
    } finally {
      await driver.close();
    }
  });

  // Reopening kills redis-server with SIGKILL and starts it again: only what reached the
  // append-only file with fsync comes back.
  runConformance(
    redisTarget(
      'redis-durable',
      {
        get url() {
          return server.url;
        },
      },
      () => admin,
      async () => {
        await server.kill('SIGKILL');
        await server.restart();
      },
    ),
    conformanceCases.filter((c) => c.group === 'durability' || c.group === 'driver'),
  );

  it('a SIGKILLed redis-server keeps every post and delete a client saw acknowledged', async () => {
    const sideFile = join(server.dir, 'acked.txt');
    const keyPrefix = 'crash:';
    const child = spawn(process.execPath, ['--import', 'tsx', poster, server.url, keyPrefix, sideFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      // "running" comes once 400 posts and a delete were acknowledged: crash Redis mid-stream then.
      await waitForLine(child, 'running');
      await server.kill('SIGKILL');
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve),
      );
    }
    await server.restart();
    const lines = readFileSync(sideFile, 'utf8').split('\n');
    lines.pop(); // an unfinished last line is no acknowledgement
    const posted = lines.filter((l) => l.startsWith('P ')).map((l) => l.slice(2));
    const tried = new Set(lines.filter((l) => l.startsWith('T ')).map((l) => l.slice(2)));
    const deleted = lines.filter((l) => l.startsWith('D ')).map((l) => l.slice(2));
    assert.ok(posted.length >= 400, `only ${posted.length} posts were acknowledged before the crash`);
    assert.ok(deleted.length > 0, 'a delete was acknowledged before the crash');

    const driver = await createRedisDriver({ url: server.url, keyPrefix, logger: silentLogger });
    try {
      const kept = posted.filter((id) => !tried.has(id));
      for (let i = 0; i < kept.length; i += 20) {
        const chunk = kept.slice(i, i + 20);
        const found = await driver.messages.bulkGet('crash', 'q', chunk);
        assert.deepEqual(
          found.map((m) => m.id),
          chunk,
          'every acknowledged post survived the crash',
        );
      }
      for (let i = 0; i < deleted.length; i += 20) {
        assert.deepEqual(
          await driver.messages.bulkGet('crash', 'q', deleted.slice(i, i + 20)),
          [],
          'deletes stay done',
        );
      }
      const total = (await driver.queues.stats('crash', 'q')).total;
      assert.ok(total >= kept.length, `the queue holds ${total}, at least the ${kept.length} acknowledged`);
    } finally {
      await driver.close();
      rmSync(sideFile, { force: true });
    }
  });
});

suiteNeeding(
  'redis configurations that are refused or trusted less (started here)',
  binaries ? null : 'redis-server is not installed',
  () => {
    const servers: RedisServer[] = [];
    after(async () => {
      for (const s of servers) await s.stop();
    });
    const start = async (args: string[]) => {
      const s = await RedisServer.start(args, 'config');
      servers.push(s);
      return s;
    };

    it('a Redis whose maxmemory-policy may evict keys is refused, and nothing is written', async () => {
      const server = await start(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
      const admin = new Redis(server.url);
      try {
        for (const policy of ['allkeys-lru', 'volatile-lru', 'allkeys-random', 'volatile-ttl']) {
          await admin.config('SET', 'maxmemory-policy', policy);
          await rejectsWith(
            createRedisDriver({ url: server.url, logger: silentLogger }),
            StorageMisconfiguredError,
            (e) => assert.match(e.message, new RegExp(`maxmemory-policy ${policy}`)),
          );
        }
        assert.equal(await admin.dbsize(), 0, 'a refused open writes nothing');
        await admin.config('SET', 'maxmemory-policy', 'noeviction');
        const driver = await createRedisDriver({ url: server.url, logger: silentLogger });
        await driver.close();
      } finally {
        admin.disconnect();
      }
    });

    it('without CONFIG the driver says so, declares no DURABILITY, and still refuses eviction (read from INFO)', async () => {
      const evicting = await start([
        '--rename-command',
        'CONFIG',
        '',
        '--maxmemory',
        '64mb',
        '--maxmemory-policy',
        'allkeys-lfu',
      ]);
      await rejectsWith(createRedisDriver({ url: evicting.url, logger: silentLogger }), StorageMisconfiguredError);

      const server = await start(['--rename-command', 'CONFIG', '', ...DURABLE]);
      const logger = recordingLogger();
      const driver = await createRedisDriver({ url: server.url, logger });
      try {
        assert.equal(driver.capabilities.has('DURABILITY'), false, 'appendfsync cannot be seen, so it is not trusted');
        assert.ok(driver.capabilities.has('CLAIMS'));
        assert.match(logger.warnings.join('\n'), /CONFIG is not available/);
        await driver.messages.post('p', 'q', [{ body: 'works' }], 'c');
        assert.equal((await driver.messages.pop('p', 'q', 1))[0]?.body, 'works');
      } finally {
        await driver.close();
      }
    });

    it('a Redis without fsync on every write is used without DURABILITY, and the operator is told', async () => {
      const server = await start(['--appendonly', 'yes', '--appendfsync', 'everysec']);
      const logger = recordingLogger();
      const driver = await createRedisDriver({ url: server.url, logger });
      try {
        assert.equal(driver.capabilities.has('DURABILITY'), false);
        assert.match(logger.warnings.join('\n'), /appendonly yes and appendfsync everysec/);
      } finally {
        await driver.close();
      }
    });
  },
);

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    // A deadline for a busy machine, not a measure.
    const timer = setTimeout(() => reject(new Error(`the child did not print "${line}" within 60 s`)), 60_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      if (out.includes(`${line}\n`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the child exited (${code}) before printing "${line}"`));
    });
  });
}
