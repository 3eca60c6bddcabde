import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (field 3 onward), or null where unknown. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * The start time of a process in clock ticks since boot (Linux /proc), or null where unknown.
 * A pid and its start time name a process for good: a recycled pid has another start time.
 */
export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/**
 * What a process is doing, as far as an owner check cares (Linux /proc; `unknown` elsewhere):
 * - `zombie`: it has exited (state Z, or X while being reaped): its files are closed and it
 *   will never run again, though its pid answers `kill(pid, 0)` until its parent reaps it.
 * - `dying`: it is exiting (the kernel's PF_EXITING flag) or a SIGKILL is pending for it — it
 *   will never run code of its own again, only the kernel's exit path.
 * - `running`: anything else that /proc shows.
 */
export type ProcessState = 'running' | 'dying' | 'zombie' | 'unknown';

const PF_EXITING = 0x4;
const SIGKILL_BIT = 1n << 8n; // signal 9 is bit 8 of the pending masks

export function processState(pid: number): ProcessState {
  const fields = statFields(pid);
  if (fields === null) return 'unknown';
  const state = fields[0];
  if (state === 'Z' || state === 'X' || state === 'x') return 'zombie';
  const flags = Number(fields[6]);
  if (Number.isFinite(flags) && (flags & PF_EXITING) !== 0) return 'dying';
  if (sigkillPending(pid)) return 'dying';
  return 'running';
}

function sigkillPending(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  for (const name of ['ShdPnd', 'SigPnd']) {
    const hex = new RegExp(`^${name}:\\s*([0-9a-fA-F]+)$`, 'm').exec(status)?.[1];
    if (hex !== undefined && (BigInt(`0x${hex}`) & SIGKILL_BIT) !== 0n) return true;
  }
  return false;
}
