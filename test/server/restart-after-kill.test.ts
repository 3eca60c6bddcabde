import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, startServeProcess } from '../interop/serve-process.js';

const HEADERS = { 'client-id': '3381af92-2b9e-11e3-b191-71861300734c', 'x-project-id': 'p' };

function procStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * `posthorn serve` under a parent that never reaps it (`sh` backgrounds it, then becomes
 * `sleep`): once killed it stays a zombie, as under a supervisor that has not reaped it yet.
 */
async function startUnreaped(data: string): Promise<{ parent: ChildProcess; pid: number; url: string }> {
  const serve = `exec node --import tsx src/cli/main.ts serve --port 0 --ws-port 0 --data '${data}'`;
  const parent = spawn('sh', ['-c', `(${serve}) & echo "serve-pid $!"; exec sleep 100000`], {
    cwd: ROOT,
    env: { ...process.env, POSTHORN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const look = (chunk: string) => {
      out += chunk;
      const pid = /serve-pid (\d+)/.exec(out)?.[1];
      const url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"posthorn serving"/.exec(out)?.[1];
      if (pid && url) {
        clearInterval(watch);
        resolve({ parent, pid: Number(pid), url });
      }
    };
    parent.stdout?.setEncoding('utf8').on('data', look);
    parent.stderr?.setEncoding('utf8').on('data', look);
    // Nobody reaps the server, so its exit shows only as a zombie in /proc: fail instead of waiting.
    const watch = setInterval(() => {
      const pid = /serve-pid (\d+)/.exec(out)?.[1];
      if (pid && !/\) [RSDTtWPI]/.test(procStat(Number(pid)))) {
        clearInterval(watch);
        parent.kill('SIGKILL');
        reject(new Error(`posthorn serve exited before serving:\n${out}`));
      }
    }, 100);
  });
}

/**
 * Issue 12, defect 9: a supervisor with a short restart delay SIGKILLs `posthorn serve` and
 * starts it again at once, while the killed process is still dying or a zombie nobody reaped.
 * The new server must take the locks over instead of exiting with "... is locked by process N".
 */
const linux = process.platform === 'linux';
if (!linux) console.log('# skipped: the unreaped-server test reads /proc (Linux only)');

describe('server: restart at once after SIGKILL', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-restart-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an unreaped (zombie) server killed by SIGKILL does not keep its folders locked', {
    skip: linux ? false : 'reads /proc (Linux only)',
  }, async () => {
    const data = join(dir, 'zombie');
    const old = await startUnreaped(data);
    try {
      process.kill(old.pid, 'SIGKILL');
      const server = await startServeProcess(['--data', data]);
      try {
        assert.equal((await fetch(`${server.url}/v2/ping`, { headers: HEADERS })).status, 204);
      } finally {
        await server.stop('SIGTERM');
      }
    } finally {
      old.parent.kill('SIGKILL');
    }
  });

  it('five rounds of SIGKILL then an immediate start: every start serves', async () => {
    const data = join(dir, 'rounds');
    let server = await startServeProcess(['--data', data]);
    try {
      for (let round = 0; round < 5; round++) {
        const killed = server;
        killed.child.kill('SIGKILL');
        // Started before the killed one's exit is awaited, so perhaps before it is reaped.
        const next = startServeProcess(['--data', data]);
        await killed.exit();
        server = await next.catch((error: Error) => assert.fail(`round ${round}: ${error.message}`));
        assert.equal((await fetch(`${server.url}/v2/ping`, { headers: HEADERS })).status, 204, `round ${round}`);
      }
    } finally {
      await server.stop('SIGTERM');
    }
  });
});
