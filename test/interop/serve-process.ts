import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The repository's root, so the child runs the CLI from source through tsx. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Every line the server wrote to stdout and stderr so far. */
  output(): string;
  /** Sends a signal and waits for the exit; returns the exit code (null when killed by the signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Waits for the exit without sending anything; returns the exit code. */
  exit(): Promise<number | null>;
}

/**
 * Starts `posthorn serve` as a child process on a free port and waits for its "posthorn serving"
 * log line. The caller stops it (always, in a finally block).
 */
export async function startServeProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  // A free WebSocket port too unless the caller names one (the default, 9000, may be another run's).
  const ws = args.includes('--ws-port') ? [] : ['--ws-port', '0'];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', ...ws, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, POSTHORN_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`posthorn serve did not start in 60 s:\n${output}`)), 60_000);
    const look = () => {
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"posthorn serving"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`posthorn serve exited with ${code} before serving:\n${output}`));
    });
  });
  return {
    child,
    url,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
    async exit() {
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
