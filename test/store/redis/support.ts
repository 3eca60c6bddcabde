/**
 * What the Redis tests share: the shared server's address, starting and stopping redis-server
 * processes of their own (single servers and a three-master cluster) on free ports in temp
 * folders, a conformance target whose every case has its own key prefix and removes its keys
 * after, and the rule for a missing server: say so in one line and skip, except under CI=true.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { ConformanceTarget } from '../../../src/conformance/index.js';
import { type FakeClock, type Logger, silentLogger } from '../../../src/core/index.js';
import type { DataDriver } from '../../../src/store/contract/index.js';
import { createRedisDriver, type RedisDriverOptions } from '../../../src/store/redis/index.js';

const run = promisify(execFile);

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CI = process.env.CI === 'true';

/** Whether a Redis answers PING at `url` (5 s to connect: the machine may be busy). */
export async function redisAnswers(url: string): Promise<boolean> {
  return (await redisProcessId(url)) !== null;
}

/** The process id of the Redis answering at `url` (from INFO server), or null when none answers. */
async function redisProcessId(url: string): Promise<number | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') return null;
    const pid = /^process_id:(\d+)/m.exec(await client.info('server'))?.[1];
    return pid === undefined ? null : Number(pid);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** Whether redis-server and redis-cli can be started here. */
export async function redisBinariesPresent(): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers `suite` when `reason` is null. Otherwise prints one line and registers a skipped
 * test — or, under CI=true, a failing one, because CI must not pass by skipping.
 */
export function suiteNeeding(name: string, reason: string | null, suite: () => void): void {
  if (reason === null) {
    describe(name, suite);
    return;
  }
  if (CI) {
    it(`${name} (needs a server)`, () => {
      throw new Error(`${name}: ${reason}, and CI=true forbids skipping`);
    });
    return;
  }
  console.log(`# skipping ${name}: ${reason}`);
  it(name, { skip: reason }, () => {});
}

/** A logger that remembers every warning, so tests can check what operators are told. */
export function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    ...silentLogger,
    warnings,
    warn(_fields, message) {
      warnings.push(message ?? '');
    },
  };
}

/** A key prefix of its own for one test or case. */
export function uniquePrefix(): string {
  return `pht:${randomBytes(5).toString('hex')}:`;
}

/** Removes every key under `prefix` on every master (SCAN, never FLUSHALL: the server may be shared). */
export async function deleteKeys(admin: Redis | Cluster, prefix: string): Promise<number> {
  const masters = admin instanceof Cluster ? admin.nodes('master') : [admin];
  let removed = 0;
  for (const node of masters) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      // One UNLINK per key: on a cluster, keys of different slots cannot share a command.
      for (const key of keys) removed += await node.unlink(key);
    } while (cursor !== '0');
  }
  return removed;
}

/** Every key under `prefix` on every master. */
export async function listKeys(admin: Redis | Cluster, prefix: string): Promise<string[]> {
  const masters = admin instanceof Cluster ? admin.nodes('master') : [admin];
  const found: string[] = [];
  for (const node of masters) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** How many keys are under `prefix` on every master. */
export async function countKeys(admin: Redis | Cluster, prefix: string): Promise<number> {
  return (await listKeys(admin, prefix)).length;
}

export type Connect = Pick<RedisDriverOptions, 'url' | 'nodes'>;

/**
 * A conformance target over a Redis: each case opens drivers under a fresh key prefix and its keys
 * are removed when the case closes its driver. `restart`, when given, is called between closing
 * and reopening (the durable target kills and restarts its server there).
 */
export function redisTarget(
  name: string,
  connect: Connect,
  admin: () => Redis | Cluster,
  restart?: () => Promise<void>,
): ConformanceTarget {
  const prefixes = new WeakMap<DataDriver, string>();
  const open = async (clock: FakeClock, prefix: string): Promise<DataDriver> => {
    const inner = await createRedisDriver({ ...connect, clock, keyPrefix: prefix, logger: silentLogger });
    let cleaned = false;
    // Closing the driver a case was given also removes the case's keys; reopen closes the inner one.
    const driver: DataDriver = Object.create(inner, {
      close: {
        value: async () => {
          await inner.close();
          if (!cleaned) {
            cleaned = true;
            await deleteKeys(admin(), prefix);
          }
        },
      },
    });
    prefixes.set(driver, prefix);
    innerOf.set(driver, inner);
    return driver;
  };
  const innerOf = new WeakMap<DataDriver, DataDriver>();
  return {
    name,
    open: (clock) => open(clock, uniquePrefix()),
    ...(restart
      ? {
          async reopen(driver: DataDriver, clock: FakeClock) {
            const prefix = prefixes.get(driver) as string;
            await innerOf.get(driver)?.close();
            await restart();
            return open(clock, prefix);
          },
        }
      : {}),
  };
}

/** A free TCP port on 127.0.0.1 (there is a small race until the server binds it; starts retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A redis-server process of a test's own, in a temp folder, on a free port. */
export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** Starts a server with `args` added to a baseline of: 127.0.0.1 only, no RDB saves. */
  static async start(args: string[] = [], label = 'redis'): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), `posthorn-${label}-`));
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(dir, await freePort(), args);
      try {
        await server.launch();
        return server;
      } catch (error) {
        lastError = error;
        server.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process again on the same port and folder (after a kill or stop). */
  async restart(): Promise<void> {
    await this.launch();
  }

  /** Sends a signal; SIGKILL is the crash the durability tests need. Resolves when the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') return;
    await gone;
    this.child = null;
  }

  /** Stops the server for good and removes its folder. */
  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--logfile',
        join(this.dir, 'redis.log'),
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`redis-server exited (${code ?? signal}); see ${this.dir}/redis.log`)),
      ),
    );
    exited.catch(() => {});
    // Up once the server on the port is this child: a port freed by a kill may be taken by another
    // run's server meanwhile, which must not pass for ours. 30 s is a deadline for a busy machine.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) await exited;
      if ((await redisProcessId(this.url)) === child.pid) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 30 s`);
  }
}

/** Three redis-server masters with cluster-enabled yes, joined by redis-cli --cluster create. */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  static async start(): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        servers.push(
          await RedisServer.start(
            [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-port',
              String(await freePort()),
              '--cluster-node-timeout',
              '2000',
              // Slots of a dead master fail; the others keep serving (what a pool operator wants).
              '--cluster-require-full-coverage',
              'no',
              '--appendonly',
              'no',
            ],
            'cluster',
          ),
        );
      }
      await run('redis-cli', [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      const cluster = new RedisCluster(servers);
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      for (const s of servers) await s.stop();
      throw error;
    }
  }

  get nodes(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await s.stop();
  }

  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.servers.map(async (s) => {
          const client = new Redis(s.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
          client.on('error', () => {});
          try {
            await client.connect();
            const info = await client.cluster('INFO');
            return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
          } catch {
            return false;
          } finally {
            client.disconnect();
          }
        }),
      );
      if (states.every(Boolean)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the Redis Cluster did not reach cluster_state:ok within 60 s');
  }
}
