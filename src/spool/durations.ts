import { InvalidArgumentError } from '../core/index.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Retry intervals as operators write them: `30s,5m,1h`, with `x3` to repeat (`1h*3` as in
 * Haraka's `temp_fail_intervals` reads the same). Units ms, s, m, h, d.
 */
export function parseIntervals(text: string, field = 'retry intervals'): number[] {
  if (text.trim() === '') return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*(?:[*x]\s*(\d+))?\s*$/.exec(part);
    if (!m)
      throw new InvalidArgumentError(
        field,
        `${JSON.stringify(part.trim())} is not a duration like 30s, 5m, 1h or 1h*3`,
      );
    const ms = Number(m[1]) * (UNITS[m[2] as string] as number);
    const times = m[3] === undefined ? 1 : Number(m[3]);
    if (times < 1 || times > 1000) throw new InvalidArgumentError(field, 'a repeat count is between 1 and 1000');
    for (let i = 0; i < times; i++) out.push(ms);
  }
  return out;
}

/** A duration for people: 90000 -> "1m30s". */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms) / 1000);
  if (rest === 0) return `${sign}0s`;
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return sign + parts.join('');
}
