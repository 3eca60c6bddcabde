import type { Command } from 'commander';
import { InvalidArgumentError } from '../core/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { commandLineValue } from './posthorn-command.js';
import { type QueueCounters, readQueueMetrics } from './queue-metrics.js';
import { formatAge, type QueueDepth, queueDepths } from './queue-ops-command.js';
import { ServerClient, type ServerFlags, serverOptions } from './server-client.js';
import { renderTable } from './table.js';

interface TopFlags extends ServerFlags {
  interval: number;
  limit: number;
  once?: boolean;
  metricsUrl?: string;
}

/** A queue in `top`: its depth now, and how fast it changed since the last sample. */
export interface TopRow extends QueueDepth {
  /** Messages per second the queue grew (negative: drained) since the previous sample; null at the first. */
  rate: number | null;
  /** Messages posted per second since the previous sample, from GET /metrics; null when unknown. */
  postedRate: number | null;
  /** Messages deleted (acknowledged) per second since the previous sample, from GET /metrics; null when unknown. */
  deletedRate: number | null;
  /** Messages not yet visible (posted with a delay), from GET /metrics; null when unknown. */
  delayed: number | null;
}

/** One refresh: the rows, and why posted/s and deleted/s are missing when they are (else null). */
export interface TopSample {
  rows: TopRow[];
  metricsUnavailable: string | null;
}

/** What a sample keeps for the next one's rates. */
export interface TopPrevious {
  at: number;
  depths: Map<string, number>;
  counters: Map<string, QueueCounters> | null;
}

/**
 * `posthorn top`: the busiest queues of a project, refreshing — depth (total, free, claimed,
 * delayed), messages posted and deleted per second, and the age of its oldest message, like
 * `top` for processes. On a terminal it redraws in place until `q` (or Ctrl-C); otherwise (a pipe,
 * a log, or `--once`) it prints plain tables, one per refresh. Depths come from the stats API,
 * rates from two scrapes of GET /metrics (the service's posted and deleted counters); a server
 * that does not let it scrape (metrics off, not an admin) gets growth/s — the change in depth —
 * instead, said so under the table. Either rate needs two samples, so `--once` takes two,
 * `--interval` apart.
 */
export function registerTopCommand(program: Command, io: CliIo = processIo): void {
  serverOptions(
    program
      .command('top')
      .description('a live view of the busiest queues: depth, posted and deleted per second, oldest message (q quits)')
      .option('--interval <seconds>', 'seconds between refreshes', commandLineValue(seconds), 2)
      .option('--limit <n>', 'queues shown', commandLineValue(whole), 20)
      .option('--once', 'print one table, of two samples --interval apart, and exit')
      .option(
        '--metrics-url <url>',
        'where the server serves GET /metrics when on a port of its own (metrics_port): http://host:port',
        commandLineValue(metricsEndpoint),
      ),
  ).action((flags: TopFlags) => top(io, flags));
}

async function top(io: CliIo, flags: TopFlags): Promise<void> {
  const client = new ServerClient(io, flags);
  const live = flags.once !== true && flags.json !== true && io.tty !== undefined;
  let previous: TopPrevious | null = null;
  const sample = async (): Promise<TopSample> => {
    const [depths, metrics] = await Promise.all([queueDepths(client), readQueueMetrics(client, flags.metricsUrl)]);
    const at = io.clock.now();
    const counters = 'queues' in metrics ? metrics.queues : null;
    const rows = topRows(previous, { at, depths, counters });
    previous = { at, depths: new Map(depths.map((d) => [d.name, d.total])), counters };
    return {
      rows: busiestFirst(rows).slice(0, flags.limit),
      metricsUnavailable: 'unavailable' in metrics ? metrics.unavailable : null,
    };
  };
  const heading = () => `posthorn top — ${client.url}, project ${client.project ?? '(default)'}`;

  if (!live) {
    let told = false;
    for (;;) {
      if (flags.once) {
        await sample();
        await sleep(flags.interval * 1000);
      }
      const got = await sample();
      if (flags.json) {
        io.out(
          `${JSON.stringify({
            at: new Date(io.clock.now()).toISOString(),
            metrics_unavailable: got.metricsUnavailable,
            queues: got.rows.map(rowJson),
          })}\n`,
        );
      } else {
        // Off a terminal the tables follow one another: why the rates are growth/s is said once.
        const footer: string = told ? '' : topFooter(got);
        told ||= footer !== '';
        io.out(`${heading()}, ${new Date(io.clock.now()).toISOString()}\n${topTable(got)}${footer}`);
      }
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
        const got = await sample();
        screen = `${heading()}   (q quits)\n\n${topTable(got)}${topFooter(got)}`;
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

/** The rows of a sample, with rates against the previous one (none at the first). */
export function topRows(
  previous: TopPrevious | null,
  now: { at: number; depths: QueueDepth[]; counters: Map<string, QueueCounters> | null },
): TopRow[] {
  const elapsed = previous === null ? 0 : (now.at - previous.at) / 1000;
  const perSecond = (after: number | undefined, before: number | undefined): number | null =>
    // A counter that went down is a restarted server: no rate from across it.
    after === undefined || before === undefined || !(elapsed > 0) || !(after >= before)
      ? null
      : (after - before) / elapsed;
  return now.depths.map((d): TopRow => {
    const counted = now.counters?.get(d.name);
    const counted0 = previous?.counters?.get(d.name);
    return {
      ...d,
      rate: growth(d.total, previous?.depths.get(d.name), elapsed),
      postedRate: perSecond(counted?.posted, counted0?.posted),
      deletedRate: perSecond(counted?.deleted, counted0?.deleted),
      delayed: counted?.delayed ?? null,
    };
  });
}

/** The change in depth per second: it may be negative (a draining queue), unlike a counter's rate. */
function growth(total: number, before: number | undefined, elapsed: number): number | null {
  return before === undefined || !(elapsed > 0) ? null : (total - before) / elapsed;
}

/** Deepest first; ties by how busy they are (posted and deleted, else growth), then by name. */
export function busiestFirst(rows: TopRow[]): TopRow[] {
  const busy = (r: TopRow) => (r.postedRate ?? 0) + (r.deletedRate ?? 0) + Math.abs(r.rate ?? 0);
  return [...rows].sort((a, b) => b.total - a.total || busy(b) - busy(a) || (a.name < b.name ? -1 : 1));
}

/** The table: posted/s, deleted/s and delayed from GET /metrics, or growth/s when it cannot be read. */
export function topTable(got: TopSample): string {
  const { rows } = got;
  if (rows.length === 0) return 'no queues\n';
  const counted = got.metricsUnavailable === null;
  const table = [
    counted
      ? ['queue', 'total', 'free', 'claimed', 'delayed', 'posted/s', 'deleted/s', 'oldest']
      : ['queue', 'total', 'free', 'claimed', 'growth/s', 'oldest'],
  ];
  for (const r of rows) {
    const depth = [r.name, String(r.total), String(r.free), String(r.claimed)];
    table.push(
      counted
        ? [
            ...depth,
            r.delayed === null ? '-' : String(r.delayed),
            rateText(r.postedRate),
            rateText(r.deletedRate),
            formatAge(r.oldestAge),
          ]
        : [...depth, r.rate === null ? '-' : `${r.rate >= 0 ? '+' : ''}${r.rate.toFixed(1)}`, formatAge(r.oldestAge)],
    );
  }
  return renderTable(table);
}

/** The line under the table that says why the rates are growth/s; empty when they are not. */
export function topFooter(got: TopSample): string {
  return got.metricsUnavailable === null
    ? ''
    : `posted/s and deleted/s need GET /metrics (${got.metricsUnavailable}): showing growth/s, the change in depth\n`;
}

function rateText(rate: number | null): string {
  return rate === null ? '-' : rate.toFixed(1);
}

function rowJson(r: TopRow): Record<string, unknown> {
  return {
    name: r.name,
    total: r.total,
    free: r.free,
    claimed: r.claimed,
    delayed: r.delayed,
    posted_per_second: r.postedRate,
    deleted_per_second: r.deletedRate,
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

/** A metrics listener's base URL (or its /metrics URL) as the URL of its GET /metrics. */
function metricsEndpoint(text: string): string {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new InvalidArgumentError('--metrics-url', 'must be an http:// or https:// URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError('--metrics-url', 'must be an http:// or https:// URL');
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/metrics';
  return parsed.toString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
