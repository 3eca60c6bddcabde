import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServeProcess, startServeProcess } from '../interop/serve-process.js';

export const ADMIN_TOKEN = 'client-test-admin-token-0123456789';
export const SIGNING_KEY = 'client-test-signing-key-0123456789abcdef';

export interface TestServer {
  process: ServeProcess;
  url: string;
  wsUrl: string;
  /** The folder of its configuration and data (kept across restarts). */
  dir: string;
  port: number;
}

/** The WebSocket URL the server's "posthorn serving" line names. */
function wsUrlOf(output: string): string {
  const match = /"ws":"(ws:\/\/[^"]+)"[^\n]*"msg":"posthorn serving"/.exec(output);
  if (!match?.[1]) throw new Error(`no WebSocket URL in the server's output:\n${output}`);
  return match[1];
}

/**
 * `posthorn serve` as a child process (through tsx) on a disk store in its own folder, with a
 * signing key and an admin token; `settings` adds to its configuration. `port` reuses a port
 * (a restart); `dir` reuses a folder.
 */
export async function serveForClient(
  settings: Record<string, unknown> = {},
  reuse: { dir?: string; port?: number } = {},
): Promise<TestServer> {
  const dir = reuse.dir ?? mkdtempSync(join(tmpdir(), 'posthorn-client-'));
  const file = join(dir, 'posthorn.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: 'disk',
      log_requests: false,
      signed_url: { secret_key: SIGNING_KEY },
      admin: { token: ADMIN_TOKEN },
      ...settings,
    }),
  );
  const args = ['--config', file, '--data', join(dir, 'data')];
  if (reuse.port !== undefined) args.push('--port', String(reuse.port));
  const process = await startServeProcess(args);
  const url = process.url;
  return { process, url, wsUrl: wsUrlOf(process.output()), dir, port: Number(new URL(url).port) };
}

export function removeFolder(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
