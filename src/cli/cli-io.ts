import { type Clock, systemClock } from '../core/index.js';

/**
 * What a command reads and writes besides files: its output streams, its exit code, the clock,
 * the environment and the working folder. `posthorn` uses the process's; tests pass their own.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The exit code of a command that ends without an error but did not do everything (1). */
  setExitCode(code: number): void;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  cwd(): string;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  clock: systemClock,
  env: process.env,
  cwd: () => process.cwd(),
};
