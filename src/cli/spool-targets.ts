import { resolve } from 'node:path';
import { NotASpoolError, UsageError } from '../core/index.js';
import type { SpoolLog } from '../multispool/index.js';
import { SpoolFolder } from '../spool/index.js';
import type { CliIo } from './cli-io.js';

/** The delivery spool folder a `posthorn spool` command works on: the one named on the command line. */
export interface SpoolTarget {
  dir: string;
  folder: SpoolFolder;
}

export interface SpoolSelection {
  /** The first argument: the spool folder. */
  dir: string | undefined;
  ids: string[];
}

/** The message ids among the arguments: the first is the folder, which must be there. */
export function selectedIds(selection: SpoolSelection): string[] {
  if (selection.dir === undefined) throw new UsageError("missing required argument 'dir'");
  return selection.ids;
}

export async function openSpoolTargets(selection: SpoolSelection, io: CliIo, log: SpoolLog): Promise<SpoolTarget[]> {
  const dir = resolve(io.cwd(), selection.dir ?? '');
  return [{ dir, folder: await openFolder(dir, log) }];
}

async function openFolder(dir: string, log: SpoolLog): Promise<SpoolFolder> {
  try {
    // Never creates: pointing the command at a wrong folder must not turn it into a spool.
    return await SpoolFolder.open(dir, { createIfMissing: false, log });
  } catch (error) {
    // Its hint names a library option ("pass createIfMissing") that the command does not have.
    if (error instanceof NotASpoolError && error.hint !== null) {
      throw new NotASpoolError(error.path, error.reason, { cause: error });
    }
    throw error;
  }
}
