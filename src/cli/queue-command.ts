import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import {
  InvalidArgumentError,
  RequestFailedError,
  ResourceConflictError,
  StorageUnavailableError,
} from '../core/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { moveBar } from './move-progress.js';
import { count } from './plural.js';
import { commandLineValue } from './posthorn-command.js';
import { serverEndpoint } from './server-client.js';

/** How often the move's status is read. */
const POLL_MS = 500;
/** Failed resumes in a row before giving up. */
const MAX_RETRIES = 5;

interface MoveFlags {
  to: string;
  url?: string;
  adminToken?: string;
  config?: string;
  claimWait?: number;
  json?: boolean;
}

interface QueueName {
  project: string;
  queue: string;
}

interface MoveDocument {
  id: string;
  queue: string;
  from: string;
  to: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  step: string;
  active: boolean;
  copied: number;
  source: { free: number; claimed: number; delayed: number };
  released_claims: number;
  recovered: number;
  error: string | null;
}

/**
 * `posthorn queue move <project>/<queue> --to <pool>`: moves a live queue to another pool through
 * a running server's admin API (POST /v2/queues/{queue}/move), then follows the move until it ends,
 * printing its progress. The server runs the move; if it stops (that server died, a pool went
 * away), the command starts it again, which resumes it where it stopped. The server's URL and the
 * admin token come from the flags, else from the environment (POSTHORN_ADMIN_TOKEN) and the same
 * configuration file `posthorn serve` reads.
 */
export function registerQueueCommand(program: Command, io: CliIo = processIo): void {
  const queue = program.command('queue').description('act on queues of a running server');
  queue
    .command('move')
    .description('move a live queue to another pool while producers and consumers keep working')
    .argument(
      '<project/queue>',
      'the queue, after its project id and a slash (e.g. demo/mail)',
      commandLineValue(queueName),
    )
    .requiredOption('--to <pool>', 'the pool to move the queue to')
    .option('--url <url>', "the server's base URL (default: from the configuration, else http://127.0.0.1:8888)")
    .option('--admin-token <token>', 'the admin token (default: $POSTHORN_ADMIN_TOKEN, else [admin] token)')
    .option('--config <file>', 'the configuration file to read the URL and token from')
    .option(
      '--claim-wait <seconds>',
      "how long consumers' claims in the old pool may hold the move up (default: wait)",
      commandLineValue(seconds),
    )
    .option('--json', 'print each status as a JSON line')
    .action((target: QueueName, flags: MoveFlags) => moveQueue(io, target, flags));
}

function queueName(text: string): QueueName {
  const slash = text.lastIndexOf('/');
  if (slash <= 0 || slash === text.length - 1) {
    throw new InvalidArgumentError('project/queue', 'name the queue as <project>/<queue>');
  }
  return { project: text.slice(0, slash), queue: text.slice(slash + 1) };
}

function seconds(text: string): number {
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--claim-wait', 'must be seconds, 0 or more');
  return n;
}

async function moveQueue(io: CliIo, target: QueueName, flags: MoveFlags): Promise<void> {
  const { project, queue: queueName } = target;
  const { url, adminToken: token } = serverEndpoint(io, flags);
  const claimWait = flags.claimWait;
  const headers = {
    'client-id': randomUUID(),
    'x-project-id': project,
    'x-admin-token': token ?? '',
    accept: 'application/json',
  };
  const moveUrl = `${url}/v2/queues/${encodeURIComponent(queueName)}/move`;
  const start = async (): Promise<MoveDocument> =>
    call(moveUrl, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ pool: flags.to, ...(claimWait !== undefined ? { claim_wait: claimWait } : {}) }),
    });

  let move = await start();
  const print = printer(io, flags.json === true, project);
  print(move);
  let retries = 0;
  let idle = 0;
  for (;;) {
    if (move.status === 'done') {
      print(move, true);
      return;
    }
    if (move.status === 'cancelled') {
      print(move, true);
      throw new ResourceConflictError('queue', `${project}/${move.queue}`, `its move to ${move.to} was cancelled`);
    }
    const stalled = move.status === 'failed' || (move.status === 'running' && !move.active && ++idle >= 3);
    if (stalled) {
      // With --json the status line on stdout says it already; stderr keeps to errors.
      if (move.status === 'failed' && flags.json !== true)
        io.err(`posthorn queue move: move stopped: ${move.error}; resuming\n`);
      if (++retries > MAX_RETRIES) {
        throw new StorageUnavailableError(
          `the move keeps stopping${move.error ? ` (${move.error})` : ''}; it stays resumable: run this command again later`,
        );
      }
      await delay(retries * 1000);
      move = await start();
      idle = 0;
      continue;
    }
    if (move.active) retries = 0;
    await delay(POLL_MS);
    move = await call(moveUrl, { method: 'GET', headers });
    print(move);
  }
}

async function call(url: string, init: RequestInit): Promise<MoveDocument> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new RequestFailedError(
      url,
      null,
      `cannot reach ${url}: ${reachFailure(error)}. The move, if started, stays resumable: run this command against another server (--url)`,
      { cause: error },
    );
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const description = typeof body.description === 'string' ? body.description : text;
    const title = typeof body.title === 'string' ? ` ${body.title}` : '';
    throw new RequestFailedError(url, response.status, `${url} answered ${response.status}${title}: ${description}`);
  }
  return body as unknown as MoveDocument;
}

/**
 * Prints a status when it changed: a line per change, or one JSON object per line. On a terminal
 * (without --json) a progress bar stands for the lines until the final one.
 */
function printer(io: CliIo, json: boolean, project: string): (move: MoveDocument, final?: boolean) => void {
  let last = '';
  const bar = json ? null : moveBar(io);
  return (move, final = false) => {
    if (bar !== null) {
      if (!final) {
        bar.update(move);
        return;
      }
      bar.stop();
    }
    const line = json
      ? JSON.stringify(move)
      : final
        ? move.status === 'done'
          ? `done: ${project}/${move.queue} is in pool ${move.to} (${count(move.copied, 'message')} copied from ${move.from}` +
            `${move.released_claims > 0 ? `, ${count(move.released_claims, 'claim')} released` : ''}` +
            `${move.recovered > 0 ? `, ${count(move.recovered, 'message')} delivered twice after a crash` : ''})`
          : `${move.status}: ${move.error ?? ''}`
        : `${move.step}: ${move.copied} copied to ${move.to}; left in ${move.from}: ${move.source.free} free, ` +
          `${move.source.claimed} claimed, ${move.source.delayed} delayed`;
    if (line === last) return;
    last = line;
    io.out(`${line}\n`);
  };
}

/** Why fetch failed: its own message is only "fetch failed", the connection's error is its cause. */
function reachFailure(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : (error as Error).message;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
