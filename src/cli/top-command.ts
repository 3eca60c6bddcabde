import type { Command } from 'commander';
import { InvalidArgumentError } from '../core/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { commandLineValue } from './posthorn-command.js';
import { formatAge, type QueueDepth, queueDepths } from './queue-ops-command.js';
import { ServerClient, type ServerFlags, serverOptions } from './server-client.js';
import { renderTable } from './table.js';

interface TopFlags extends ServerFlags {
  interval: number;
  limit: number;
  once?: boolean;
}

/** A queue in `top`: its depth now, and how fast it changed since the last sample. */
export interface TopRow extends QueueDepth {
  /** Messages per second the queue grew (negative: drained) since the previous sample; null at the first. */
  rate: number | null;
}

/**
 * `posthorn top`: the busiest queues of a project, refreshing — depth (free, claimed, total),
 * how fast each grows or drains, and the age of its oldest message, like `top` for processes.
 * On a terminal it redraws in place until `q` (or Ctrl-C); otherwise (a pipe, a log, or
 * `--once`) it prints plain tables, one per refresh, `--once` just the first. Rates come from the
 * difference of two samples over the API, so the first sample has none.
 */
export function registerTopCommand(program: Command, io: CliIo = processIo): void {
  serverOptions(
    program
      .command('top')
      .description('a live view of the busiest queues: depth, growth per second, oldest message (q quits)')
      .option('--interval <seconds>', 'seconds between refreshes', commandLineValue(seconds), 2)
      .option('--limit <n>', 'queues shown', commandLineValue(whole), 20)
      .option('--once', 'print one table and exit'),
  ).action((flags: TopFlags) => top(io, flags));
}

async function top(io: CliIo, flags: TopFlags): Promise<void> {
  const client = new ServerClient(io, flags);
  const live = flags.once !== true && flags.json !== true && io.tty !== undefined;
  let previous: { at: number; depths: Map<string, number> } | null = null;
  const sample = async (): Promise<TopRow[]> => {
    const depths = await queueDepths(client);
    const at = io.clock.now();
    const rows = depths.map((d): TopRow => {
      const before = previous?.depths.get(d.name);
      const elapsed = previous === null ? 0 : (at - previous.at) / 1000;
      return { ...d, rate: before === undefined || elapsed <= 0 ? null : (d.total - before) / elapsed };
    });
    previous = { at, depths: new Map(depths.map((d) => [d.name, d.total])) };
    return busiestFirst(rows).slice(0, flags.limit);
  };
  const heading = () => `posthorn top — ${client.url}, project ${client.project ?? '(default)'}`;

  if (!live) {
    for (;;) {
      const rows = await sample();
      if (flags.json)
        io.out(`${JSON.stringify({ at: new Date(io.clock.now()).toISOString(), queues: rows.map(rowJson) })}\n`);
      else io.out(`${heading()}, ${new Date(io.clock.now()).toISOString()}\n${topTable(rows)}`);
      if (flags.once) return;
      await sleep(flags.interval * 1000);
    }
  }

  const tty = io.tty as NonNullable<CliIo['tty']>;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onKey = (data: Buffer) => {
    const key = data.toString('utf8');
    if (key === 'q' || key === 'Q' || key === '\u0003') stop();
  };
  tty.input?.setRawMode?.(true);
  tty.input?.resume();
  tty.input?.on('data', onKey);
  try {
    let waiting = true;
    void stopped.then(() => {
      waiting = false;
    });
    while (waiting) {
      let screen: string;
      try {
        screen = `${heading()}   (q quits)\n\n${topTable(await sample())}`;
      } catch (error) {
        // A server that stops answering is shown, not fatal: it may come back.
        screen = `${heading()}   (q quits)\n\n${(error as Error).message}\n`;
      }
      // Home and clear below: the view redraws in place.
      tty.write(`\u001b[H\u001b[2J${screen}`);
      await Promise.race([sleep(flags.interval * 1000), stopped]);
    }
  } finally {
    tty.input?.off('data', onKey);
    tty.input?.setRawMode?.(false);
    tty.input?.pause();
  }
}

/** Deepest first; ties by how fast they grow, then by name. */
export function busiestFirst(rows: TopRow[]): TopRow[] {
  return [...rows].sort(
    (a, b) => b.total - a.total || Math.abs(b.rate ?? 0) - Math.abs(a.rate ?? 0) || (a.name < b.name ? -1 : 1),
  );
}

export function topTable(rows: TopRow[]): string {
  const table = [['queue', 'total', 'free', 'claimed', 'growth/s', 'oldest']];
  for (const r of rows) {
    table.push([
      r.name,
      String(r.total),
      String(r.free),
      String(r.claimed),
      r.rate === null ? '-' : `${r.rate >= 0 ? '+' : ''}${r.rate.toFixed(1)}`,
      formatAge(r.oldestAge),
    ]);
  }
  return rows.length === 0 ? 'no queues\n' : renderTable(table);
}

function rowJson(r: TopRow): Record<string, unknown> {
  return {
    name: r.name,
    total: r.total,
    free: r.free,
    claimed: r.claimed,
    growth_per_second: r.rate,
    oldest_age: r.oldestAge,
  };
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0.2) throw new InvalidArgumentError('--interval', 'must be 0.2 seconds or more');
  return n;
}

function whole(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--limit', 'must be a whole number, 1 or more');
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
