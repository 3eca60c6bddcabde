import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** What the server benches (bench:http, bench:notify) share: a server child process and its /proc figures. */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TICK = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ on Linux)

/**
 * Node arguments that run `posthorn serve` with `serveArgs`; with BENCH_PROFILE=<dir> the server
 * writes a CPU profile there (for `node --cpu-prof` analysis).
 */
export function posthornServe(serveArgs: string[]): string[] {
  return [
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
    '--import',
    'tsx',
    'src/cli/main.ts',
    'serve',
    ...serveArgs,
  ];
}

/** Starts a Node child with `args` and resolves with it and its URL once it logs that it serves. */
export async function startServing(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string = ROOT,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (out.length > 100_000) return;
      out += chunk;
      const match = /"url":"(http:[^"]+)"/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

/** A process's resident memory, MB. */
export function processRssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round(kb / 1024);
}
