import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import {
  type Capability,
  isPosthornError,
  resetSocket,
  StorageFullError,
  StorageMisconfiguredError,
  StorageUnavailableError,
} from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import type { RedisLocation, RedisNode } from './redis-uri.js';
import { type ScriptName, scriptDefinitions } from './scripts.js';

export interface ConnectionSettings {
  /** Longest a command may take before the call fails with StorageUnavailableError. */
  commandTimeoutMs: number;
  /** Longest the first connection may take. */
  connectTimeoutMs: number;
  /** Told how long each call took (the server's metrics); none: not timed. */
  observer?: StoreObserver | undefined;
}

type Client = Redis | Cluster;
type Arg = string | Buffer | number;
type ScriptCall = (...args: Arg[]) => Promise<unknown>;

const BASE_CAPABILITIES: readonly Capability[] = ['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT'];

/**
 * One ioredis client (a server or a cluster) with the driver's scripts defined on it, every call
 * bounded in time and every failure turned into a typed error:
 *
 * - Calls never hang: ioredis gives up on a command after `maxRetriesPerRequest` reconnection
 *   attempts or after `commandTimeout`, and a deadline of our own (wall-clock time on purpose: it
 *   bounds I/O, not queue time, so it must not follow a fake clock) catches anything else.
 * - A command cut off by a lost connection is not resent on reconnect: a post that Redis may have
 *   run must fail to the caller rather than run twice behind its back.
 * - ioredis keeps reconnecting in the background, so the driver works again by itself as soon as
 *   Redis is back.
 */
export class RedisConnection {
  private readonly scripts = new Map<ScriptName, ScriptCall>();

  private constructor(
    readonly client: Client,
    private readonly settings: ConnectionSettings,
  ) {
    for (const script of scriptDefinitions()) {
      client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
      const call = (client as unknown as Record<string, ScriptCall>)[`${script.name}Buffer`];
      if (typeof call !== 'function') throw new Error(`ioredis did not define ${script.name}Buffer`);
      this.scripts.set(script.name, call.bind(client));
    }
  }

  static async open(
    location:
      | RedisLocation
      | { mode: 'cluster'; nodes: RedisNode[]; tls?: boolean; username?: string; password?: string },
    settings: ConnectionSettings,
  ): Promise<RedisConnection> {
    const nodeOptions: RedisOptions = {
      lazyConnect: true,
      connectTimeout: settings.connectTimeoutMs,
      commandTimeout: settings.commandTimeoutMs,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(100 * times, 1000),
      autoResendUnfulfilledCommands: false,
      connectionName: 'posthorn',
      ...('username' in location && location.username !== undefined ? { username: location.username } : {}),
      ...('password' in location && location.password !== undefined ? { password: location.password } : {}),
      ...(location.tls ? { tls: {} } : {}),
    };
    let client: Client;
    if (location.mode === 'cluster') {
      const options: ClusterOptions = {
        lazyConnect: true,
        // While the cluster is being rediscovered, fail at once rather than queue: a queued post
        // could otherwise run long after its caller was told it failed.
        enableOfflineQueue: false,
        redisOptions: nodeOptions,
        clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: settings.connectTimeoutMs,
      };
      client = new Cluster(location.nodes, options);
    } else {
      client = new Redis({
        ...nodeOptions,
        // While reconnecting, fail at once rather than queue (as the cluster does): a queued
        // command would run once the connection is back, long after its caller was told it failed
        // (our deadline is shorter than ioredis's reconnection attempts).
        enableOfflineQueue: false,
        host: location.host,
        port: location.port,
        db: location.db,
      });
    }
    // Errors also reach every failed call; without a listener ioredis would print each one.
    client.on('error', () => {});
    const connection = new RedisConnection(client, settings);
    try {
      await connection.deadline(client.connect(), settings.connectTimeoutMs, 'connecting');
    } catch (error) {
      client.disconnect();
      throw toStoreError(error, 'cannot connect to Redis');
    }
    return connection;
  }

  /** Runs a script by EVALSHA (ioredis loads it on NOSCRIPT); returns its reply with bulk strings as Buffers. */
  async script(name: ScriptName, keys: string[], args: Arg[]): Promise<unknown> {
    const call = this.scripts.get(name) as ScriptCall;
    return this.run(() => call(...keys, ...args), name);
  }

  /** Runs plain commands, with the same deadline and error mapping as scripts. */
  async run<T>(work: (client: Client) => Promise<T>, what = 'command'): Promise<T> {
    const roundTrip = this.settings.observer?.roundTrip;
    const started = roundTrip ? performance.now() : 0;
    try {
      return await this.deadline(work(this.client), this.settings.commandTimeoutMs + 1000, what);
    } catch (error) {
      if (timedOut(error)) this.dropConnection();
      throw toStoreError(error, `Redis ${what} failed`);
    } finally {
      roundTrip?.((performance.now() - started) / 1000);
    }
  }

  /**
   * After a timeout, resets the connection (ioredis reconnects by itself). A timed-out command
   * may still sit in the kernel's send queue, and ioredis keeps the socket: when a partition
   * heals, Redis would run it — a post its caller was told had failed. A reset discards it; the
   * other commands in flight on the connection fail with it, as they would have timed out too.
   * A cluster's node connections are left alone: which node timed out is not known here.
   */
  private dropConnection(): void {
    if (this.client instanceof Redis && this.client.status === 'ready') resetSocket(this.client.stream);
  }

  /** The masters to inspect: the server itself, or every master of the cluster. */
  masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  async ping(timeoutMs: number): Promise<boolean> {
    try {
      const masters = this.masters();
      if (masters.length === 0) return false;
      const answers = await this.deadline(Promise.all(masters.map((m) => m.ping())), timeoutMs, 'ping');
      return answers.every((a) => a === 'PONG');
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    try {
      await this.deadline(this.client.quit(), 2000, 'quit');
    } catch {
      // Redis is gone or slow: drop the connection instead.
    }
    this.client.disconnect();
  }

  private deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StorageUnavailableError(`Redis ${what} took longer than ${ms} ms`)), ms);
      timer.unref();
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

/** Whether a call failed because no answer came in time (ioredis's commandTimeout, or our deadline). */
function timedOut(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return message === 'Command timed out' || / took longer than \d+ ms$/.test(message);
}

/** Turns whatever ioredis threw into a typed error; Posthorn's own errors pass through. */
export function toStoreError(error: unknown, context: string): Error {
  if (isPosthornError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^OOM\b/.test(message)) {
    return new StorageFullError(`${context}: Redis is out of memory (${message})`, { cause: error });
  }
  return new StorageUnavailableError(`${context}: ${message}`, { cause: error });
}

export interface ServerWarning {
  /** host:port of the master concerned. */
  node: string;
  message: string;
}

export interface ServerReport {
  capabilities: Set<Capability>;
  warnings: ServerWarning[];
}

/**
 * Reads how every master is configured and decides what the driver may promise:
 * DURABILITY only when each has `appendonly yes` and `appendfsync always` (an acknowledged write
 * is on disk); refusal when any would evict keys under memory pressure (messages would vanish).
 * Without CONFIG (renamed away, as managed services do) durability cannot be known, so it is not
 * promised; the eviction policy is still read from INFO.
 */
export async function inspectServers(connection: RedisConnection): Promise<ServerReport> {
  const capabilities = new Set<Capability>(BASE_CAPABILITIES);
  const warnings: ServerWarning[] = [];
  let durable = true;
  const masters = connection.masters();
  if (masters.length === 0) throw new StorageUnavailableError('the Redis Cluster has no reachable master');
  for (const node of masters) {
    const name = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
    let config: Map<string, string> | null = new Map();
    for (const key of ['appendonly', 'appendfsync', 'maxmemory-policy']) {
      const answer = await ask(connection, () => node.config('GET', key) as Promise<string[]>);
      if ('refused' in answer) {
        config = null;
        warnings.push({
          node: name,
          message: `CONFIG is not available (${answer.refused}); persistence cannot be checked, so the driver does not declare DURABILITY`,
        });
        break;
      }
      const [field, value] = answer.reply;
      if (field !== undefined && value !== undefined) config.set(field, value);
    }
    let policy = config?.get('maxmemory-policy') ?? null;
    if (policy === null) {
      const info = await ask(connection, () => node.info('memory'));
      policy = 'reply' in info ? (/^maxmemory_policy:(\S+)/m.exec(info.reply)?.[1] ?? null) : null;
    }
    if (policy !== null && policy !== 'noeviction') {
      throw new StorageMisconfiguredError(
        `Redis ${name} has maxmemory-policy ${policy}: it may evict keys, and with them messages. Set maxmemory-policy noeviction.`,
      );
    }
    if (policy === null) {
      warnings.push({ node: name, message: 'the maxmemory-policy could not be read; make sure it is noeviction' });
    }
    if (config === null) {
      durable = false;
      continue;
    }
    const appendonly = config.get('appendonly');
    const fsync = config.get('appendfsync');
    if (appendonly !== 'yes' || fsync !== 'always') {
      durable = false;
      warnings.push({
        node: name,
        message: `Redis runs with appendonly ${appendonly ?? '?'} and appendfsync ${fsync ?? '?'}: acknowledged writes can be lost in a crash, so the driver does not declare DURABILITY (use appendonly yes, appendfsync always)`,
      });
    }
  }
  if (durable) capabilities.add('DURABILITY');
  return { capabilities, warnings };
}

/** A command's reply, or the reason Redis refused it (an unknown or forbidden command); lost connections throw. */
async function ask<T>(
  connection: RedisConnection,
  work: () => Promise<T>,
): Promise<{ reply: T } | { refused: string }> {
  try {
    return { reply: await connection.run(work, 'inspection') };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.name === 'ReplyError') return { refused: cause.message };
    throw error;
  }
}
