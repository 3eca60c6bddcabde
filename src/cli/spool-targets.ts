import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { NotASpoolError, UsageError } from '../core/index.js';
import type { SpoolLog } from '../multispool/index.js';
import { loadServerConfig } from '../server/config.js';
import { listNotificationSlots } from '../service/notify/index.js';
import { SpoolFolder } from '../spool/index.js';
import type { CliIo } from './cli-io.js';

/**
 * Which delivery spool folders a `posthorn spool` command works on: the folder named on the
 * command line, or — with `--data` or `--config` — the notification spool of every slot of a
 * server's notifications folder (`<data>/notifications/<n>/spool`, or where `[notification]
 * spool_dir` puts it), found as `posthorn serve` finds it with the same flags, environment and
 * working folder.
 */
export interface SpoolTarget {
  /** The notification slot, or null for a folder named on the command line. */
  slot: number | null;
  dir: string;
  folder: SpoolFolder;
}

export interface SpoolSelection {
  /** The first argument: the spool folder, or — with --data or --config — the first message id. */
  dir: string | undefined;
  ids: string[];
  data?: string;
  config?: string;
}

/**
 * The message ids among the arguments: with --data or --config, every argument is one; without,
 * the first is the folder, which must be there.
 */
export function selectedIds(selection: SpoolSelection, io: CliIo): string[] {
  if (!discovers(selection)) {
    if (selection.dir === undefined) throw new UsageError(MISSING_DIR);
    return selection.ids;
  }
  if (selection.dir === undefined) return selection.ids;
  // A folder where an id should be: the folder and --data/--config were both given.
  if (isFolder(resolve(io.cwd(), selection.dir))) {
    throw new UsageError(`give the spool folder (${selection.dir}) or --data/--config, not both`);
  }
  return [selection.dir, ...selection.ids];
}

const MISSING_DIR = "missing required argument 'dir' (or give --data or --config)";

export function discovers(selection: SpoolSelection): boolean {
  return selection.data !== undefined || selection.config !== undefined;
}

export async function openSpoolTargets(selection: SpoolSelection, io: CliIo, log: SpoolLog): Promise<SpoolTarget[]> {
  if (!discovers(selection)) {
    if (selection.dir === undefined) throw new UsageError(MISSING_DIR);
    const dir = resolve(io.cwd(), selection.dir);
    return [{ slot: null, dir, folder: await openFolder(dir, log) }];
  }
  const flags = {
    ...(selection.config !== undefined ? { config: selection.config } : {}),
    ...(selection.data !== undefined ? { data: selection.data } : {}),
  };
  const notifications = loadServerConfig({ flags, env: io.env, cwd: io.cwd() }).notification.dir;
  const slots = listNotificationSlots(notifications).filter((slot) => existsSync(slot.spoolDir));
  if (slots.length === 0) {
    throw new NotASpoolError(
      notifications,
      existsSync(notifications)
        ? 'it holds no notification spool (<n>/spool): has a server run with this data folder?'
        : 'the folder does not exist: has a server run with this data folder?',
    );
  }
  const targets: SpoolTarget[] = [];
  for (const slot of slots) {
    targets.push({
      slot: slot.slot,
      dir: slot.spoolDir,
      folder: await openFolder(slot.spoolDir, log),
    });
  }
  return targets;
}

function openFolder(dir: string, log: SpoolLog): Promise<SpoolFolder> {
  // Never creates: pointing the command at a wrong folder must not turn it into a spool.
  return SpoolFolder.open(dir, { createIfMissing: false, log });
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
