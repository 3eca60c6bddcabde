import { type Command, Option } from 'commander';
import { type PosthornError, ResourceNotFoundError, UsageError } from '../core/index.js';
import {
  type Changed,
  describeMessage,
  formatDuration,
  freezeMeta,
  MESSAGE_ID_PATTERN,
  type MessageMeta,
  parseIntervals,
  quarantineMeta,
  recoverMeta,
  removeMeta,
  SPOOL_QUEUES,
  type SpooledMessageInfo,
  sendMeta,
} from '../spool/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { commandLog, formatError } from './error-report.js';
import { count } from './plural.js';
import { commandLineValue, type PosthornCommand } from './posthorn-command.js';
import { discovers, openSpoolTargets, type SpoolSelection, type SpoolTarget, selectedIds } from './spool-targets.js';
import { renderTable } from './table.js';

/**
 * `posthorn spool status|send|freeze|remove|recover|quarantine <dir> [ids…]`: an operator's view
 * of a delivery spool folder, as Postfix's postqueue/postsuper are for its queues. It works on
 * the files, so it needs no running server, and it is safe beside a running Spool: every change
 * is a checkout by rename, and the running Spool notices the result (a message it is delivering
 * right now is reported busy). `--data` or `--config` instead of the folder: a server's
 * notification spools (every slot's). Tables for people, `--json` for scripts.
 */

interface SpoolFlags {
  json?: boolean;
  data?: string;
  config?: string;
}

const FOLDER_USAGE = '(<dir> | --data <dir> | --config <file>)';

/** What a subcommand works on, from its command line: the message ids it names and the spool folders. */
interface SpoolJob {
  command: PosthornCommand;
  ids: string[];
  targets: SpoolTarget[];
  /** True for a server's notification spools (--data, --config): output names each one's slot. */
  bySlot: boolean;
}

interface SpoolSubcommand<O extends SpoolFlags> {
  name: string;
  description: string;
  ids: 'optional' | 'required';
  options?: (command: Command) => Command;
  run: (job: SpoolJob, opts: O) => Promise<void>;
}

/** A subcommand with what every one has: the folder (or a server's, by --data or --config), ids, --json. */
function addSubcommand<O extends SpoolFlags>(parent: Command, io: CliIo, spec: SpoolSubcommand<O>): void {
  const command = parent
    .command(spec.name)
    .description(spec.description)
    .usage(`[options] ${FOLDER_USAGE} ${spec.ids === 'required' ? '<ids...>' : '[ids...]'}`)
    .argument('[dir]', 'the spool folder (left out with --data or --config)')
    .argument('[ids...]', spec.ids === 'required' ? 'the messages' : 'only these messages');
  (spec.options ?? ((c) => c))(command)
    .option('--data <dir>', "a server's data folder: work on its notification spools")
    .option('--config <file>', "a server's configuration file: work on its notification spools")
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string | undefined, ids: string[], opts: O, self: PosthornCommand) => {
      const selection: SpoolSelection = { dir, ids, ...opts };
      const named = checkIds(selectedIds(selection, io), spec.ids);
      const targets = await openSpoolTargets(selection, io, commandLog(io, self.path, opts.json === true));
      await spec.run({ command: self, ids: named, targets, bySlot: discovers(selection) }, opts);
    });
}

export function registerSpoolCommand(program: Command, io: CliIo = processIo): void {
  const spool = program
    .command('spool')
    .description('inspect and act on a delivery spool folder (like postqueue/postsuper)');

  addSubcommand<SpoolFlags>(spool, io, {
    name: 'status',
    description: 'list the messages in the spool: state, next attempt, attempts, recipients, last error',
    ids: 'optional',
    run: (job, opts) => status(io, job, opts),
  });

  addSubcommand<SpoolFlags & { frozen?: boolean; retry?: number[] }>(spool, io, {
    name: 'send',
    description: 'send now: frozen messages are unfrozen, waiting ones brought forward (all when no ids are given)',
    ids: 'optional',
    options: (c) =>
      c.option('--frozen', 'only frozen messages (when no ids are given)').option(
        '--retry <intervals>',
        'retry intervals to use first, like 5m,30m,2h*3',
        commandLineValue((text) => parseIntervals(text, '--retry')),
      ),
    run: async (job, opts) => {
      const now = io.clock.now();
      const send = (meta: MessageMeta) => sendMeta(meta, opts.retry ?? [], now);
      if (job.ids.length > 0) return act(io, job, send, 'sent', opts);
      // No ids: every frozen message, and every waiting one unless --frozen.
      const all: string[] = [];
      for (const { folder } of job.targets) {
        for (const l of await folder.readAll(opts.frozen ? ['frozen'] : ['frozen', 'active'])) {
          if (l.meta.status === 'frozen' || l.meta.status === 'send-at') all.push(l.meta.id);
        }
      }
      await act(io, { ...job, ids: all }, send, 'sent', opts);
    },
  });

  addSubcommand<SpoolFlags & { reason: string }>(spool, io, {
    name: 'freeze',
    description: 'stop delivering messages until they are sent again',
    ids: 'required',
    options: (c) => c.option('--reason <text>', 'why', commandLineValue(nonEmpty), 'frozen by an operator'),
    run: (job, opts) => act(io, job, (m) => freezeMeta(m, opts.reason), 'frozen', opts),
  });

  addSubcommand<SpoolFlags>(spool, io, {
    name: 'remove',
    description: 'move frozen messages to removed (recover brings them back)',
    ids: 'required',
    run: (job, opts) => act(io, job, removeMeta, 'removed', opts),
  });

  addSubcommand<SpoolFlags & { from: 'removed' | 'quarantined' }>(spool, io, {
    name: 'recover',
    description: 'bring removed or quarantined messages back, frozen (send them to deliver)',
    ids: 'required',
    options: (c) =>
      c.addOption(
        new Option('--from <where>', 'where the messages are')
          .choices(['removed', 'quarantined'])
          .makeOptionMandatory(),
      ),
    run: (job, opts) => act(io, job, (m) => recoverMeta(m, opts.from), 'recovered', opts),
  });

  addSubcommand<SpoolFlags & { reason: string }>(spool, io, {
    name: 'quarantine',
    description: 'move waiting or frozen messages to quarantine',
    ids: 'required',
    options: (c) => c.requiredOption('--reason <text>', 'why', commandLineValue(nonEmpty)),
    run: (job, opts) => act(io, job, (m) => quarantineMeta(m, opts.reason), 'quarantined', opts),
  });
}

function nonEmpty(text: string): string {
  if (text.trim() === '') throw new UsageError('must not be empty');
  return text;
}

/** Message ids as given on the command line, each once. */
function checkIds(ids: string[], need: 'optional' | 'required'): string[] {
  if (need === 'required' && ids.length === 0) throw new UsageError("missing required argument 'ids'");
  for (const id of ids) {
    if (!MESSAGE_ID_PATTERN.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a spool message id`);
  }
  return [...new Set(ids)];
}

/**
 * Changes messages wherever they are among the targets. As SpoolFolder.changeAll does in one
 * folder, every id is checked in every folder first, so a bad request changes nothing.
 */
async function act(
  io: CliIo,
  { command, targets, ids }: SpoolJob,
  transition: (meta: MessageMeta) => MessageMeta,
  verb: string,
  opts: SpoolFlags,
): Promise<void> {
  const groups = new Map<SpoolTarget, string[]>();
  for (const id of ids) {
    let home: SpoolTarget | undefined;
    for (const target of targets) {
      if ((await target.folder.locate(id)) !== null) {
        home = target;
        break;
      }
    }
    if (home === undefined) throw new ResourceNotFoundError('spool message', id);
    groups.set(home, [...(groups.get(home) ?? []), id]);
  }
  for (const [target, group] of groups) await target.folder.checkAll(group, transition);
  const done: Changed[] = [];
  const failed: { id: string; error: PosthornError }[] = [];
  for (const [target, group] of groups) {
    const result = await target.folder.changeAll(group, transition);
    done.push(...result.done);
    failed.push(...result.failed);
  }
  if (opts.json) {
    io.out(
      `${JSON.stringify({
        [verb]: done.map((c) => c.before.id),
        failed: failed.map((f) => ({ id: f.id, code: f.error.code, message: f.error.message })),
      })}\n`,
    );
  } else {
    for (const c of done) io.out(`${verb} ${c.before.id}${c.after ? ` (now ${c.after.status})` : ''}\n`);
    if (done.length === 0 && failed.length === 0) io.out('nothing to do\n');
  }
  for (const f of failed) io.err(formatError(command.path, f.error, opts.json === true));
  if (failed.length > 0) io.setExitCode(1);
}

interface StatusRow extends SpooledMessageInfo {
  queue: string;
  /** The notification slot whose spool holds it; null in a folder named on the command line. */
  slot: number | null;
}

async function status(io: CliIo, { targets, ids, bySlot }: SpoolJob, opts: SpoolFlags): Promise<void> {
  const wanted = new Set(ids);
  const rows: StatusRow[] = [];
  // Messages checked out right now (being delivered, or changed by another command) show as busy.
  const busy: { id: string; queue: string; slot: number | null }[] = [];
  for (const { folder, slot } of targets) {
    for (const l of await folder.readAll()) {
      if (wanted.size === 0 || wanted.has(l.meta.id)) rows.push({ ...describeMessage(l.meta), queue: l.queue, slot });
    }
    for (const queue of SPOOL_QUEUES) {
      for (const c of await folder.multispool.listCheckouts(queue)) {
        if (wanted.size === 0 || wanted.has(c.name)) busy.push({ id: c.name, queue, slot });
      }
    }
  }
  rows.sort((a, b) => a.spooledAt - b.spooledAt || (a.id < b.id ? -1 : 1));
  const counts = Object.fromEntries(SPOOL_QUEUES.map((q) => [q, rows.filter((r) => r.queue === q).length]));
  const waiting = (counts.active ?? 0) + (counts.frozen ?? 0) + busy.length;
  if (opts.json) {
    const spools = targets.map((t) => ({ slot: t.slot, dir: t.dir }));
    io.out(`${JSON.stringify({ spools, messages: rows, busy, counts: { ...counts, busy: busy.length, waiting } })}\n`);
    return;
  }
  const now = io.clock.now();
  const slotColumn = (slot: number | null) => (bySlot ? [String(slot)] : []);
  const table: string[][] = [
    [
      ...(bySlot ? ['slot'] : []),
      'id',
      'state',
      'next attempt',
      'attempts',
      'age',
      'sender',
      'recipients',
      'last error / reason',
    ],
  ];
  for (const r of rows) {
    table.push([
      ...slotColumn(r.slot),
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
  for (const b of busy)
    table.push([...slotColumn(b.slot), b.id, 'delivering', '-', '', '', '', '', `held in ${b.queue}`]);
  io.out(renderTable(table));
  const where = bySlot ? ` in ${count(targets.length, 'spool')}` : '';
  io.out(
    `${count(rows.length + busy.length, 'message')}${where}: ${SPOOL_QUEUES.map((q) => `${counts[q]} ${q}`).join(', ')}, ` +
      `${busy.length} busy; ${waiting} waiting or frozen\n`,
  );
}
