import type { Command } from 'commander';
import { isPosthornError } from '../core/index.js';
import { stderrLog } from '../multispool/index.js';
import { loadServerConfig } from '../server/config.js';
import { readNotificationStatus } from '../service/notify/index.js';

/**
 * `posthorn notify status [dir]`: the delivery status of every subscription — notifications
 * delivered, waiting in the spool (first attempt or retry) and failed for good — read from the
 * notifications folder (by default the one `posthorn serve` uses with the same configuration).
 * Safe beside a running server: it reads files and changes nothing. `posthorn spool status
 * <dir>/<n>/spool` shows the spooled messages themselves.
 */

export interface NotifyCliIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
}

const processIo: NotifyCliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

export function registerNotifyCommand(program: Command, io: NotifyCliIo = processIo): void {
  const notify = program.command('notify').description('subscription notifications (webhooks, mail)');
  notify
    .command('status')
    .description('delivered, pending and failed notifications per subscription')
    .argument('[dir]', "the notifications folder (default: the server configuration's notification.spool_dir)")
    .option('--config <file>', 'the server configuration to take the folder from')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string | undefined, opts: { config?: string; json?: boolean }) => {
      try {
        const folder =
          dir ??
          loadServerConfig({
            flags: opts.config !== undefined ? { config: opts.config } : {},
            env: process.env,
            cwd: process.cwd(),
          }).notification.dir;
        const rows = await readNotificationStatus(folder, stderrLog);
        if (opts.json) {
          io.out(`${JSON.stringify({ dir: folder, subscriptions: rows })}\n`);
          return;
        }
        const table = [['subscription', 'project', 'queue', 'subscriber', 'delivered', 'pending', 'failed']];
        for (const r of rows) {
          const source = r.source === null ? '?' : r.kind === 'topic' ? `topic:${r.source}` : r.source;
          table.push([
            r.id,
            r.project ?? '?',
            source,
            r.subscriber ?? '?',
            String(r.delivered),
            String(r.pending),
            String(r.failed),
          ]);
        }
        io.out(rows.length === 0 ? `no notifications in ${folder}\n` : renderTable(table));
      } catch (error) {
        const text = isPosthornError(error)
          ? `${error.code}: ${error.message}`
          : String((error as Error)?.message ?? error);
        io.err(`posthorn notify: ${text}\n`);
        io.setExitCode(isPosthornError(error) ? 1 : 2);
      }
    });
}

function renderTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map(
      (r) =>
        `${r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}
