/**
 * What every fuzzed answer must satisfy, and the settings every fuzz run shares: a fixed default
 * seed (CI is deterministic), POSTHORN_FUZZ_SEED and POSTHORN_FUZZ_RUNS to explore further, and
 * a count small enough for CI (the four fuzz tests take about 25 s on a quiet machine).
 */
import type fc from 'fast-check';

export function fuzzSettings(defaultRuns: number): fc.Parameters<unknown> {
  const seed = process.env.POSTHORN_FUZZ_SEED;
  const runs = process.env.POSTHORN_FUZZ_RUNS;
  const path = process.env.POSTHORN_FUZZ_PATH;
  const long = runs !== undefined;
  return {
    seed: seed === undefined ? 20261202 : Number(seed),
    numRuns: long ? Number(runs) : defaultRuns,
    ...(path !== undefined ? { path } : {}),
    // Bounded by count only, never by time: a time bound would make what CI checks depend on how
    // busy the machine is, and so could make a run pass on a busy machine that fails on a quiet one.
  };
}

/** Why a failure body is not Zaqar's `{"title", "description"}` (strings, nothing else), or null. */
export function notZaqarErrorBody(text: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not an object';
  const keys = Object.keys(body).sort();
  if (keys.join(',') !== 'description,title') return `the body has the keys ${keys.join(', ')}`;
  const { title, description } = body as Record<string, unknown>;
  if (typeof title !== 'string' || typeof description !== 'string') return 'title or description is not a string';
  return null;
}

/** The path of the first place two JSON-like values differ, with both sides (short), or null. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (Object.is(a, b)) return null;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return `${path}: ${short(a)} became ${short(b)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const d = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (d !== null) return d;
  }
  return null;
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** A request or answer for a failure message, cut to a readable length. */
export function shown(value: unknown, max = 600): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
