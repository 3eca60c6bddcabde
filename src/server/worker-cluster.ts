import cluster, { type Worker } from 'node:cluster';
import { InvalidArgumentError } from '../core/index.js';
import { ManagementStore, openPoolDriver, parsePoolUri, poolStoreLimits, redactPoolUri } from '../pool/index.js';
import { storeLimits } from '../service/index.js';
import type { ServerConfig } from './config.js';
import { relayClusterScrapes } from './metrics/cluster-scrape.js';

/** The message the primary sends a worker to stop it gracefully. */
export const STOP_MESSAGE = 'posthorn:stop';

function refuse(reason: string): never {
  throw new InvalidArgumentError('--workers', reason);
}

/**
 * Checks that N processes can serve one configuration: every store they use must be shared. A
 * disk folder has one owner (the second process would find it locked) and a memory store would be
 * one per process, so the catalogue must be in Redis or PostgreSQL and so must every pool —
 * configured or already registered.
 */
export async function checkWorkersAllowed(config: ServerConfig): Promise<void> {
  const pooling = config.pooling;
  if (pooling === null) {
    refuse(
      `needs [pooling] with a shared catalog (redis:// or postgres://): the ${config.store} store ${config.store === 'disk' ? `in ${config.data} has one owner` : 'would be one per process'}`,
    );
  }
  if (pooling.catalog === null) {
    refuse('needs [pooling] catalog = "redis://…" or "postgres://…": the embedded store cannot be shared by processes');
  }
  if (!parsePoolUri(pooling.catalog).shared) {
    refuse(
      `the catalog ${redactPoolUri(pooling.catalog)} is not a store processes can share (use redis:// or postgres://)`,
    );
  }
  for (const pool of pooling.pools) {
    const location = parsePoolUri(pool.uri);
    if (!location.shared) {
      refuse(
        `pool ${pool.name} is a ${location.kind} pool, which ${location.kind === 'disk' ? 'has one owner' : 'is one per process'}`,
      );
    }
  }
  const management = await openPoolDriver(pooling.catalog, {
    limits: poolStoreLimits(storeLimits(config.limits)),
  });
  try {
    for (const pool of await new ManagementStore(management).allPools()) {
      const location = parsePoolUri(pool.uri);
      if (!location.shared) {
        refuse(
          `the registered pool ${pool.name} is a ${location.kind} pool, which one process owns; move its queues and delete it first`,
        );
      }
    }
  } finally {
    await management.close();
  }
}

export interface PrimaryLog {
  info(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * Runs the primary of `posthorn serve --workers N`: forks N workers (each a whole server; they
 * share the port through node:cluster, which spreads connections across them), starts a new one
 * when one dies after it began serving, and stops them all gracefully on SIGTERM or SIGINT. A
 * worker that dies before serving ends everything: its configuration or stores are wrong, and
 * forking it again would only fail again.
 */
export function runPrimary(workers: number, log: PrimaryLog): void {
  let stopping = false;
  const serving = new WeakSet<Worker>();
  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => serving.add(worker));
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!serving.has(worker)) {
      log.error({ pid: worker.process.pid, code, signal }, 'a worker stopped before serving; stopping every worker');
      stop();
      process.exitCode = 1;
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'a worker died; starting another');
    fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (all.length === 0) process.exit(process.exitCode ?? 0);
    for (const worker of all) worker.send(STOP_MESSAGE);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  relayClusterScrapes();
  log.info({ workers, pid: process.pid }, 'posthorn primary: starting workers');
  for (let i = 0; i < workers; i++) fork();
}
