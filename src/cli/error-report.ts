import { isPosthornError, NotASpoolError, UsageError } from '../core/index.js';
import type { SpoolLog } from '../multispool/index.js';
import type { CliIo } from './cli-io.js';

/**
 * How every `posthorn` command reports an error on stderr. For people, one line:
 *
 *   posthorn spool status: /var/spool/x is not a usable spool: the folder does not exist
 *
 * With `--json`, one JSON object a line, always of this shape:
 *
 *   {"error":{"code":"PH_NOT_A_SPOOL","message":"/var/spool/x is not a usable spool: ..."}}
 *
 * `code` is the error's PH_* code (PH_USAGE for a wrong command line), else the system's code
 * of a failed system call (EACCES...), else PH_UNEXPECTED. The exit code is 2 for a usage
 * error and 1 for every other.
 */
export interface ErrorReport {
  error: { code: string; message: string };
}

export function errorReport(error: unknown): ErrorReport {
  const code = isPosthornError(error)
    ? error.code
    : typeof (error as { code?: unknown })?.code === 'string'
      ? (error as { code: string }).code
      : 'PH_UNEXPECTED';
  return { error: { code, message: messageOf(error) } };
}

function messageOf(error: unknown): string {
  // The hint names a library option ("pass createIfMissing") that no command has.
  if (error instanceof NotASpoolError && error.hint !== null)
    return `${error.path} is not a usable spool: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
}

export function formatError(command: string, error: unknown, json: boolean): string {
  const report = errorReport(error);
  // A message is one line, so that every line of stderr is one error.
  const message = report.error.message.replace(/\s*\n\s*/g, ' ');
  return json ? `${JSON.stringify({ error: { ...report.error, message } })}\n` : `${command}: ${message}\n`;
}

export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError ? 2 : 1;
}

/**
 * A spool's warnings (a damaged file set aside, a recovery) for the command's stderr: a line
 * like an error's for people, the spool's JSON log line with `--json`.
 */
export function commandLog(io: CliIo, command: string, json: boolean): SpoolLog {
  return (level, message, fields = {}) => {
    if (json) io.err(`${JSON.stringify({ level, msg: message, ...fields })}\n`);
    else {
      const details = Object.keys(fields).length === 0 ? '' : ` ${JSON.stringify(fields)}`;
      io.err(`${command}: ${level}: ${message}${details}\n`);
    }
  };
}
