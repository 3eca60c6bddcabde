import { execSync } from 'node:child_process';
import os from 'node:os';

/**
 * Shared by every benchmark: one JSON object per line and per figure, in the fields of
 * DESIGN.md ("Benchmark output"), so runs can be compared by a script.
 */
export interface Figure {
  bench: string;
  target: string;
  op: string;
  batch?: number;
  concurrency?: number;
  msgs_per_s?: number;
  reqs_per_s?: number;
  p50_ms?: number;
  p99_ms?: number;
  max_ms?: number;
  rss_mb?: number;
  seconds?: number;
  messages?: number;
  bytes_per_msg?: number;
  rss_bytes_per_msg?: number;
  cpu_us_per_req?: number;
  /** How many times something happened (bench:soak: rounds, acknowledged operations, findings). */
  count?: number;
  /** One figure over another of the same run (bench:tenants: B's p99 flooded over alone). */
  ratio?: number;
  /** The target a ratio's figure is over. */
  vs?: string;
  note?: string;
}

export function emit(figure: Figure): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1048576);
}

/** Percentile of a sorted-in-place array of milliseconds, rounded to 0.01 ms. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const index = Math.min(values.length - 1, Math.floor((p / 100) * values.length));
  return Math.round((values[index] as number) * 100) / 100;
}

export function round(value: number): number {
  return value >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

/** One line describing this machine, for bench/RESULTS.md. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  let disk = '';
  try {
    disk = execSync('df -h --output=source,fstype . | tail -1', { encoding: 'utf8' }).trim();
  } catch {}
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${disk}`;
}
