import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const trace = join(root, 'test', 'fixtures', 'import-trace.mjs');

/** The packages importing `entry` loads (from src, through tsx), as test/package/entry-points.test.ts reads them. */
async function packagesLoadedBy(entry: string): Promise<Set<string>> {
  const { stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', trace, '--input-type=module', '-e', `await import(${JSON.stringify(entry)})`],
    { cwd: root },
  );
  const names = [...stderr.matchAll(/^import (\S+)$/gm)].map((m) => m[1] as string);
  return new Set(names.map((n) => (n.startsWith('@') ? n.split('/').slice(0, 2) : n.split('/').slice(0, 1)).join('/')));
}

describe('package: posthorn/client', () => {
  it('loads undici and nothing of the server (no fastify, ioredis, pg, ws, pino)', async () => {
    const loaded = await packagesLoadedBy('./src/entry/client.ts');
    assert.ok(loaded.has('undici'), `the trace sees packages (${[...loaded].join(', ')})`);
    // msgpackr is allowed: core (which the Worker's part of this entry imports) encodes with it.
    for (const heavy of ['fastify', 'ioredis', 'pg', 'ws', 'pino', 'jose', 'nodemailer', 'prom-client']) {
      assert.ok(!loaded.has(heavy), `importing posthorn/client loads ${heavy}`);
    }
  });
});
