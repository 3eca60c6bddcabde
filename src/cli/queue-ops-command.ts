import type { Command } from 'commander';
import { InvalidArgumentError, UsageError } from '../core/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { count } from './plural.js';
import { commandLineValue } from './posthorn-command.js';
import { type Json, queueTarget, ServerClient, type ServerFlags, serverOptions } from './server-client.js';
import { renderTable } from './table.js';

/**
 * `posthorn queue list|stats|peek|post|purge|redrive`: an operator's look at a running server's
 * queues over its HTTP API, as any client sees them (RabbitMQ's `rabbitmqctl list_queues`, with
 * Zaqar's calls). Auth like any client: --project, --token, --admin-token, or their environment
 * variables. Tables for people, `--json` for scripts. A queue is named `<queue>` (with
 * --project) or `<project>/<queue>`.
 */

/** One queue's depth as `queue list` and `posthorn top` show it. */
export interface QueueDepth {
  name: string;
  free: number;
  claimed: number;
  total: number;
  /** Seconds since the oldest message was posted; null when the queue is empty. */
  oldestAge: number | null;
}

/** A queue's stats document (GET /v2/queues/{name}/stats) as a depth. */
export function depthOf(name: string, stats: Json | undefined): QueueDepth {
  const m = (stats?.messages ?? {}) as { free?: number; claimed?: number; total?: number; oldest?: { age?: number } };
  return {
    name,
    free: m.free ?? 0,
    claimed: m.claimed ?? 0,
    total: m.total ?? 0,
    oldestAge: typeof m.oldest?.age === 'number' ? m.oldest.age : null,
  };
}

/** Stats requests in flight at once: a project with thousands of queues must not flood the server. */
const STATS_AT_ONCE = 8;

/** Every queue of the client's project with its depth. */
export async function queueDepths(client: ServerClient): Promise<QueueDepth[]> {
  const queues = await client.listQueues();
  const depths: QueueDepth[] = new Array(queues.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < queues.length; i = next++) {
      const name = (queues[i] as { name: string }).name;
      depths[i] = depthOf(name, await client.get(`/v2/queues/${encodeURIComponent(name)}/stats`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(STATS_AT_ONCE, queues.length) }, worker));
  return depths;
}

export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** Adds the operator's queue subcommands to `posthorn queue` (queue-command.ts makes it, with `move`). */
export function registerQueueOpsCommands(program: Command, io: CliIo = processIo): void {
  const queue = program.commands.find((c) => c.name() === 'queue') ?? program.command('queue');
  const queuePath = (name: string, tail = '') => `/v2/queues/${encodeURIComponent(name)}${tail}`;

  serverOptions(
    queue.command('list').description("list the project's queues with their depth and oldest message"),
  ).action(async (flags: ServerFlags) => {
    const depths = await queueDepths(new ServerClient(io, flags));
    if (flags.json) {
      io.out(`${JSON.stringify({ queues: depths.map(depthJson) })}\n`);
      return;
    }
    const rows = [['queue', 'free', 'claimed', 'total', 'oldest']];
    for (const d of depths)
      rows.push([d.name, String(d.free), String(d.claimed), String(d.total), formatAge(d.oldestAge)]);
    io.out(renderTable(rows));
    io.out(`${count(depths.length, 'queue')}\n`);
  });

  serverOptions(
    queue
      .command('stats')
      .description("a queue's messages: free, claimed, total, oldest and newest")
      .argument('<queue>'),
  ).action(async (name: string, given: ServerFlags) => {
    const { queue: q, flags } = queueTarget(name, given);
    const stats = await new ServerClient(io, flags).get(queuePath(q, '/stats'));
    if (flags.json) {
      io.out(`${JSON.stringify(stats)}\n`);
      return;
    }
    const m = (stats?.messages ?? {}) as Record<string, unknown>;
    const stamp = (s: unknown) => {
      const x = s as { age?: number; created?: string } | undefined;
      return x === undefined ? '-' : `${formatAge(x.age ?? 0)} ago (${x.created ?? '?'})`;
    };
    io.out(
      renderTable(
        [
          ['stat', 'value'],
          ['free', String(m.free ?? 0)],
          ['claimed', String(m.claimed ?? 0)],
          ['total', String(m.total ?? 0)],
          ['oldest', stamp(m.oldest)],
          ['newest', stamp(m.newest)],
        ],
        80,
      ),
    );
  });

  serverOptions(
    queue
      .command('peek')
      .description("show a queue's messages without claiming them (oldest first)")
      .argument('<queue>')
      .option('--limit <n>', 'at most this many (1 to 20)', commandLineValue(positive('--limit')), 10)
      .option('--claimed', 'include claimed messages'),
  ).action(async (name: string, given: ServerFlags & { limit: number; claimed?: boolean }) => {
    const { queue: q, flags } = queueTarget(name, given);
    const query = `?echo=true&include_delayed=true&limit=${given.limit}${given.claimed ? '&include_claimed=true' : ''}`;
    const page = await new ServerClient(io, flags).get(queuePath(q, `/messages${query}`));
    const messages = (page?.messages as Json[] | undefined) ?? [];
    if (flags.json) {
      io.out(`${JSON.stringify({ messages })}\n`);
      return;
    }
    const rows = [['id', 'age', 'ttl', 'claimed', 'body']];
    for (const m of messages) {
      rows.push([
        String(m.id),
        formatAge(Number(m.age)),
        `${m.ttl}s`,
        typeof m.claim_id === 'string' ? 'yes' : '',
        JSON.stringify(m.body),
      ]);
    }
    io.out(renderTable(rows, 60));
    io.out(`${count(messages.length, 'message')}\n`);
  });

  serverOptions(
    queue
      .command('post')
      .description('post a message: its body as JSON (text that is not JSON is posted as a string)')
      .argument('<queue>')
      .argument('<body>')
      .option('--ttl <seconds>', "the message's ttl (default: the queue's)", commandLineValue(positive('--ttl')))
      .option('--delay <seconds>', 'seconds before it can be claimed', commandLineValue(nonNegative('--delay'))),
  ).action(async (name: string, text: string, given: ServerFlags & { ttl?: number; delay?: number }) => {
    const { queue: q, flags } = queueTarget(name, given);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const message = {
      body,
      ...(given.ttl !== undefined ? { ttl: given.ttl } : {}),
      ...(given.delay !== undefined ? { delay: given.delay } : {}),
    };
    const answer = await new ServerClient(io, flags).post(queuePath(q, '/messages'), { messages: [message] });
    const ids = ((answer?.resources as string[] | undefined) ?? []).map((r) => r.slice(r.lastIndexOf('/') + 1));
    if (flags.json) io.out(`${JSON.stringify({ ids })}\n`);
    else io.out(`posted ${ids.join(', ')} to ${q}\n`);
  });

  serverOptions(
    queue
      .command('purge')
      .description("delete a queue's messages (and, with --subscriptions, its subscriptions)")
      .argument('<queue>')
      .option('--subscriptions', 'purge the subscriptions too'),
  ).action(async (name: string, given: ServerFlags & { subscriptions?: boolean }) => {
    const { queue: q, flags } = queueTarget(name, given);
    const types = given.subscriptions ? ['messages', 'subscriptions'] : ['messages'];
    await new ServerClient(io, flags).post(queuePath(q, '/purge'), { resource_types: types });
    if (flags.json) io.out(`${JSON.stringify({ purged: q, resource_types: types })}\n`);
    else io.out(`purged ${types.join(' and ')} of ${q}\n`);
  });

  serverOptions(
    queue
      .command('redrive')
      .description("move messages of a queue's dead-letter queue back into it, keeping body and ttl")
      .argument('<queue>', 'the queue whose _dead_letter_queue holds them')
      .argument('[ids...]', 'only these dead letters (their ids in the dead-letter queue); default: all'),
  ).action(async (name: string, ids: string[], given: ServerFlags) => {
    const { queue: q, flags } = queueTarget(name, given);
    const client = new ServerClient(io, flags);
    // All in one go: the server moves at most 10,000 a request and says when more are left.
    let more = true;
    const moved: { from: string; to: string }[] = [];
    let answer: Json | undefined;
    while (more) {
      answer = await client.post(queuePath(q, '/redrive'), ids.length > 0 ? { ids } : {});
      moved.push(...((answer?.moved as { from: string; to: string }[] | undefined) ?? []));
      more = ids.length === 0 && answer?.more === true;
    }
    const dlq = String(answer?.dead_letter_queue ?? '');
    if (flags.json) {
      io.out(`${JSON.stringify({ queue: q, dead_letter_queue: dlq, moved, count: moved.length })}\n`);
      return;
    }
    if (moved.length > 0) io.out(renderTable([['from (dead letter)', 'to'], ...moved.map((m) => [m.from, m.to])]));
    io.out(`moved ${count(moved.length, 'message')} from ${dlq} back to ${q}\n`);
  });
}

function depthJson(d: QueueDepth): Json {
  return { name: d.name, free: d.free, claimed: d.claimed, total: d.total, oldest_age: d.oldestAge };
}

function positive(option: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(option, 'must be a whole number, 1 or more');
    return n;
  };
}

function nonNegative(option: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${option} must be a whole number, 0 or more`);
    return n;
  };
}
