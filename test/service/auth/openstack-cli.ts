import { execFile } from 'node:child_process';
import WebSocket from 'ws';

/** What one CLI or script run did: its exit status and what it printed. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without blocking this process (the in-process server must go on answering the
 * requests the program makes); resolves whatever the exit status.
 */
export function runProgram(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 },
      (error, stdout, stderr) => {
        const status = error ? ((error as { code?: unknown }).code ?? null) : 0;
        resolve({ status: typeof status === 'number' ? status : null, stdout, stderr });
      },
    );
  });
}

/**
 * `openstack messaging …` as a user logs in with a password (the OS_* variables): the CLI finds
 * the messaging endpoint in keystone's catalog. Resolves with the parsed `-f json` output (added
 * when `json` is true) or the raw output; rejects with the CLI's stderr when it fails.
 */
export async function messaging(
  env: Record<string, string>,
  args: string[],
  options: { json?: boolean } = {},
): Promise<unknown> {
  const run = await runProgram('openstack', ['messaging', ...args, ...(options.json ? ['-f', 'json'] : [])], env);
  if (run.status !== 0) {
    throw new Error(`openstack messaging ${args.join(' ')} exited ${run.status}:\n${run.stderr}${run.stdout}`);
  }
  return options.json ? JSON.parse(run.stdout) : run.stdout;
}

interface Answer {
  body: Record<string, unknown>;
  headers: { status: number };
}

/** A WebSocket to Posthorn; each `send` waits for its answer (answers come in request order). */
export class ZaqarSocket {
  private readonly answers: Answer[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    readonly ws: WebSocket,
    private readonly clientId: string,
  ) {
    ws.on('message', (data) => {
      const doc = JSON.parse(data.toString()) as Record<string, unknown>;
      if ('request' in doc) this.answers.push(doc as unknown as Answer);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(url: string, clientId: string): Promise<ZaqarSocket> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new ZaqarSocket(ws, clientId);
  }

  async send(action: string, headers: Record<string, unknown>, body: Record<string, unknown> = {}): Promise<Answer> {
    const index = this.answers.length;
    this.ws.send(JSON.stringify({ action, headers: { 'Client-ID': this.clientId, ...headers }, body }));
    while (this.answers.length <= index) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.answers[index] as Answer;
  }

  close(): void {
    this.ws.terminate();
  }
}
