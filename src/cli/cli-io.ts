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
  /**
   * The terminal, when the output is one: live views (`posthorn top`) and progress bars draw on
   * it and read keys from its input; without it commands print plain lines.
   */
  tty?: { write(text: string): unknown; columns?: number; stream?: NodeJS.WriteStream; input?: TtyInput } | undefined;
}

/** The keyboard of a terminal (process.stdin when it is one). */
export interface TtyInput {
  setRawMode?(raw: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  off(event: 'data', listener: (data: Buffer) => void): unknown;
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
  tty: process.stdout.isTTY
    ? {
        write: (text: string) => process.stdout.write(text),
        columns: process.stdout.columns,
        stream: process.stdout,
        ...(process.stdin.isTTY ? { input: process.stdin } : {}),
      }
    : undefined,
};
