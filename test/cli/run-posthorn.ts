import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import type { CliIo } from '../../src/cli/cli-io.js';
import { runCli } from '../../src/cli/program.js';
import { type Clock, systemClock } from '../../src/core/index.js';

export interface CliResult {
  out: string;
  err: string;
  code: number;
}

export interface CliContext {
  clock?: Clock;
  /** The environment (default: none, so that the machine's POSTHORN_* variables stay out). */
  env?: NodeJS.ProcessEnv;
  /** The working folder (default: the system's temporary folder, which holds no posthorn.toml). */
  cwd?: string;
}

/** Runs a `posthorn` command line in this process, capturing what it prints and its exit code. */
export async function posthorn(context: CliContext, ...args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    setExitCode: () => {
      throw new Error('runCli answers the exit code; it never sets the process one');
    },
    clock: context.clock ?? systemClock,
    env: context.env ?? {},
    cwd: () => context.cwd ?? tmpdir(),
  };
  const code = await runCli(args, io);
  return { out, err, code };
}

const root = new URL('../../', import.meta.url).pathname;
// By URL, so that the command also runs from a working folder outside the repository.
const tsx = import.meta.resolve('tsx');

/** Runs `posthorn` as its own process, as people do. */
export async function posthornProcess(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  const script = `${root}src/cli/main.ts`;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', tsx, script, ...args], {
      cwd: options.cwd ?? root,
      env: { PATH: process.env.PATH, ...options.env },
    });
    return { out: stdout, err: stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    if (typeof failed.code !== 'number') throw error;
    return { out: failed.stdout ?? '', err: failed.stderr ?? '', code: failed.code };
  }
}
