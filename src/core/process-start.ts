import { readFileSync } from 'node:fs';

/**
 * The start time of a process in clock ticks since boot (Linux /proc), or null where unknown.
 * A pid and its start time name a process for good: a recycled pid has another start time.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
