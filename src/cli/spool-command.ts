import type { Command } from 'commander';
import { type Clock, InvalidArgumentError, isPosthornError, systemClock } from '../core/index.js';
import { stderrLog } from '../multispool/index.js';
import {
  type Changed,
  describeMessage,
  formatDuration,
  freezeMeta,
  MESSAGE_ID_PATTERN,
  parseIntervals,
  quarantineMeta,
  recoverMeta,
  removeMeta,
  SPOOL_QUEUES,
  type SpooledMessageInfo,
  SpoolFolder,
  sendMeta,
} from '../spool/index.js';

/**
 * `posthorn spool status|send|freeze|remove|recover|quarantine <dir> [ids…]`: an operator's view
 * of a delivery spool folder, as Postfix's postqueue/postsuper are for its queues. It works on
 * the files, so it needs no running server, and it is safe beside a running Spool: every change
 * is a checkout by rename, and the running Spool notices the result (a message it is delivering
 * right now is reported busy). Tables for people, `--json` for scripts.
 */

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
  clock: Clock;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  clock: systemClock,
};

interface JsonOption {
  json?: boolean;
}

export function registerSpoolCommand(program: Command, io: CliIo = processIo): void {
  const spool = program
    .command('spool')
    .description('inspect and act on a delivery spool folder (like postqueue/postsuper)');

  spool
    .command('status')
    .description('list the messages in the spool: state, next attempt, attempts, recipients, last error')
    .argument('<dir>', 'the spool folder')
    .argument('[ids...]', 'only these messages')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption) => run(io, () => status(io, dir, ids, opts)));

  spool
    .command('send')
    .description('send now: frozen messages are unfrozen, waiting ones brought forward (all when no ids are given)')
    .argument('<dir>', 'the spool folder')
    .argument('[ids...]', 'the messages (default: every frozen and waiting message)')
    .option('--frozen', 'only frozen messages (when no ids are given)')
    .option('--retry <intervals>', 'retry intervals to use first, like 5m,30m,2h*3', '')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption & { frozen?: boolean; retry: string }) =>
      run(io, async () => {
        const intervals = parseIntervals(opts.retry, '--retry');
        const folder = await openFolder(dir);
        let targets = checkIds(ids);
        if (targets.length === 0) {
          const all = await folder.readAll(opts.frozen ? ['frozen'] : ['frozen', 'active']);
          targets = all.filter((l) => l.meta.status === 'frozen' || l.meta.status === 'send-at').map((l) => l.meta.id);
        }
        await act(io, folder, targets, (meta) => sendMeta(meta, intervals, io.clock.now()), 'sent', opts);
      }),
    );

  spool
    .command('freeze')
    .description('stop delivering messages until they are sent again')
    .argument('<dir>', 'the spool folder')
    .argument('<ids...>', 'the messages')
    .option('--reason <text>', 'why', 'frozen by an operator')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption & { reason: string }) =>
      run(io, async () =>
        act(io, await openFolder(dir), checkIds(ids, true), (m) => freezeMeta(m, opts.reason), 'frozen', opts),
      ),
    );

  spool
    .command('remove')
    .description('move frozen messages to removed (recover brings them back)')
    .argument('<dir>', 'the spool folder')
    .argument('<ids...>', 'the messages (each must be frozen)')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption) =>
      run(io, async () => act(io, await openFolder(dir), checkIds(ids, true), removeMeta, 'removed', opts)),
    );

  spool
    .command('recover')
    .description('bring removed or quarantined messages back, frozen (send them to deliver)')
    .argument('<dir>', 'the spool folder')
    .argument('<ids...>', 'the messages')
    .requiredOption('--from <where>', 'removed or quarantined')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption & { from: string }) =>
      run(io, async () => {
        const from = opts.from;
        if (from !== 'removed' && from !== 'quarantined') {
          throw new InvalidArgumentError('--from', "must be 'removed' or 'quarantined'");
        }
        await act(io, await openFolder(dir), checkIds(ids, true), (m) => recoverMeta(m, from), 'recovered', opts);
      }),
    );

  spool
    .command('quarantine')
    .description('move waiting or frozen messages to quarantine')
    .argument('<dir>', 'the spool folder')
    .argument('<ids...>', 'the messages')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print JSON for scripts')
    .action((dir: string, ids: string[], opts: JsonOption & { reason: string }) =>
      run(io, async () => {
        if (opts.reason.trim() === '') throw new InvalidArgumentError('--reason', 'must not be empty');
        await act(
          io,
          await openFolder(dir),
          checkIds(ids, true),
          (m) => quarantineMeta(m, opts.reason),
          'quarantined',
          opts,
        );
      }),
    );
}

async function run(io: CliIo, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const text = isPosthornError(error) ? `${error.code}: ${error.message}` : String((error as Error)?.stack ?? error);
    io.err(`posthorn spool: ${text}\n`);
    io.setExitCode(isPosthornError(error) ? 1 : 2);
  }
}

function openFolder(dir: string): Promise<SpoolFolder> {
  // Never creates: pointing the command at a wrong folder must not turn it into a spool.
  return SpoolFolder.open(dir, { createIfMissing: false, log: stderrLog });
}

function checkIds(ids: string[], required = false): string[] {
  if (required && ids.length === 0) throw new InvalidArgumentError('ids', 'name at least one message');
  for (const id of ids) {
    if (!MESSAGE_ID_PATTERN.test(id))
      throw new InvalidArgumentError('ids', `${JSON.stringify(id)} is not a spool message id`);
  }
  return [...new Set(ids)];
}

async function act(
  io: CliIo,
  folder: SpoolFolder,
  ids: string[],
  transition: Parameters<SpoolFolder['changeAll']>[1],
  verb: string,
  opts: JsonOption,
): Promise<void> {
  const { done, failed } = await folder.changeAll(ids, transition);
  if (opts.json) {
    io.out(
      `${JSON.stringify({
        [verb]: done.map((c: Changed) => c.before.id),
        failed: failed.map((f) => ({ id: f.id, code: f.error.code, message: f.error.message })),
      })}\n`,
    );
  } else {
    for (const c of done) io.out(`${verb} ${c.before.id}${c.after ? ` (now ${c.after.status})` : ''}\n`);
    for (const f of failed) io.err(`not ${verb} ${f.id}: ${f.error.code}: ${f.error.message}\n`);
    if (done.length === 0 && failed.length === 0) io.out(`nothing to do\n`);
  }
  if (failed.length > 0) io.setExitCode(1);
}

interface StatusRow extends SpooledMessageInfo {
  queue: string;
}

async function status(io: CliIo, dir: string, ids: string[], opts: JsonOption): Promise<void> {
  const folder = await openFolder(dir);
  const wanted = new Set(checkIds(ids));
  const rows: StatusRow[] = (await folder.readAll())
    .filter((l) => wanted.size === 0 || wanted.has(l.meta.id))
    .map((l) => ({ ...describeMessage(l.meta), queue: l.queue }));
  // Messages checked out right now (being delivered, or changed by another command) show as busy.
  const busy: { id: string; queue: string }[] = [];
  for (const queue of SPOOL_QUEUES) {
    for (const c of await folder.multispool.listCheckouts(queue)) {
      if (wanted.size === 0 || wanted.has(c.name)) busy.push({ id: c.name, queue });
    }
  }
  rows.sort((a, b) => a.spooledAt - b.spooledAt || (a.id < b.id ? -1 : 1));
  const counts = Object.fromEntries(SPOOL_QUEUES.map((q) => [q, rows.filter((r) => r.queue === q).length]));
  const waiting = (counts.active ?? 0) + (counts.frozen ?? 0) + busy.length;
  if (opts.json) {
    io.out(`${JSON.stringify({ messages: rows, busy, counts: { ...counts, busy: busy.length, waiting } })}\n`);
    return;
  }
  const now = io.clock.now();
  const table: string[][] = [
    ['id', 'state', 'next attempt', 'attempts', 'age', 'sender', 'recipients', 'last error / reason'],
  ];
  for (const r of rows) {
    table.push([
      r.id,
      r.state,
      r.nextAttemptAt === null ? '-' : r.nextAttemptAt <= now ? 'now' : `in ${formatDuration(r.nextAttemptAt - now)}`,
      String(r.attempts),
      formatDuration(now - r.spooledAt),
      r.sender === '' ? '<>' : r.sender,
      r.recipients.map((x) => (x.state === 'pending' ? x.address : `${x.address} (${x.state})`)).join(', '),
      r.quarantineReason ?? r.frozenReason ?? r.lastError ?? '',
    ]);
  }
  for (const b of busy) table.push([b.id, 'delivering', '-', '', '', '', '', `held in ${b.queue}`]);
  io.out(renderTable(table));
  io.out(
    `${rows.length + busy.length} messages: ${SPOOL_QUEUES.map((q) => `${counts[q]} ${q}`).join(', ')}, ${busy.length} busy; ${waiting} waiting or frozen\n`,
  );
}

const MAX_CELL = 48;

function renderTable(rows: string[][]): string {
  const cells = rows.map((row) => row.map((c) => (c.length > MAX_CELL ? `${c.slice(0, MAX_CELL - 1)}…` : c)));
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row, n) => {
      const line = row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd();
      return n === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n')
    .concat('\n');
}
