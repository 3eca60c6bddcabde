import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ResourceNotFoundError, UsageError } from '../core/index.js';
import { loadServerConfig } from '../server/config.js';
import { readNotificationStatus } from '../service/notify/index.js';
import { type CliIo, processIo } from './cli-io.js';
import { commandLog } from './error-report.js';
import type { PosthornCommand } from './posthorn-command.js';

/**
 * `posthorn notify status [dir]`: the delivery status of every subscription — notifications
 * delivered, waiting in the spool (first attempt or retry) and failed for good — read from the
 * notifications folder (by default the one `posthorn serve` uses with the same configuration,
 * `--data` and `--config`). Safe beside a running server: it reads files and changes nothing.
 * `posthorn spool status --data <dir>` shows the spooled messages themselves.
 */

interface NotifyFlags {
  data?: string;
  config?: string;
  json?: boolean;
}

export function registerNotifyCommand(program: Command, io: CliIo = processIo): void {
  const notify = program.command('notify').description('subscription notifications (webhooks, mail)');
  notify
    .command('status')
    .description('delivered, pending and failed notifications per subscription')
    .argument('[dir]', "the notifications folder (default: the server configuration's, as serve finds it)")
    .option('--data <dir>', "a server's data folder: read its notifications folder")
    .option('--config <file>', 'the server configuration to take the folder from')
    .option('--json', 'print JSON for scripts')
    .action(async (dir: string | undefined, opts: NotifyFlags, command: PosthornCommand) => {
      let folder: string;
      if (dir !== undefined && (opts.data !== undefined || opts.config !== undefined)) {
        throw new UsageError('give the notifications folder or --data/--config, not both');
      }
      if (dir !== undefined) {
        folder = resolve(io.cwd(), dir);
        // A folder named by hand that is not there is a typo, not a server without notifications yet.
        if (!existsSync(folder)) throw new ResourceNotFoundError('folder', folder);
      } else {
        const flags = {
          ...(opts.config !== undefined ? { config: opts.config } : {}),
          ...(opts.data !== undefined ? { data: opts.data } : {}),
        };
        folder = loadServerConfig({ flags, env: io.env, cwd: io.cwd() }).notification.dir;
      }
      const rows = await readNotificationStatus(folder, commandLog(io, command.path, opts.json === true));
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
