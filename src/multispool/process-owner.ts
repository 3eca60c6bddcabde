import { processStartTime, processState } from '../core/index.js';

/**
 * Who holds a checked-out entry or a scratch file: a token `<pid>-<start>` put into file names,
 * so any process can tell whether the holder still runs. The start time (clock ticks since boot,
 * from /proc on Linux; 0 elsewhere) keeps a recycled pid from passing for the dead holder.
 * Tokens mean something only on one host and in one pid namespace: a spool shared over NFS or
 * between containers with separate pid namespaces is not supported.
 */

const OWNER_PATTERN = /^([1-9][0-9]*)-([0-9]+)$/;

let mine: string | undefined;

/** This process's token. */
export function ownerToken(): string {
  mine ??= `${process.pid}-${processStartTime(process.pid) ?? '0'}`;
  return mine;
}

export function isOwnerToken(value: string): boolean {
  return OWNER_PATTERN.test(value);
}

/** Whether the process a token names is alive. A malformed token names nobody alive. */
export function isOwnerAlive(token: string): boolean {
  if (token === ownerToken()) return true;
  const match = OWNER_PATTERN.exec(token);
  if (!match) return false;
  const pid = Number(match[1]);
  const started = match[2] as string;
  if (pid === process.pid) return started === '0' || started === processStartTime(pid);
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(pid);
  if (!(started === '0' || now === null || now === started)) return false;
  // A zombie, or a process SIGKILLed or exiting, never touches its entries again.
  const state = processState(pid);
  return state !== 'zombie' && state !== 'dying';
}
