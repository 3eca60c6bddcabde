import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const trace = join(root, 'test', 'fixtures', 'import-trace.mjs');

/** The packages importing one entry point loads (from src, through tsx). */
async function packagesLoadedBy(entry: string): Promise<Set<string>> {
  const { stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', trace, '--input-type=module', '-e', `await import(${JSON.stringify(entry)})`],
    { cwd: root },
  );
  const names = [...stderr.matchAll(/^import (\S+)$/gm)].map((m) => m[1] as string);
  // 'pg/lib/x' is the package pg; '@scope/name/x' is @scope/name.
  return new Set(names.map((n) => (n.startsWith('@') ? n.split('/').slice(0, 2) : n.split('/').slice(0, 1)).join('/')));
}

describe('package: entry points', () => {
  it('posthorn loads no server driver and no HTTP framework (a project without them can use the embedded store)', async () => {
    const loaded = await packagesLoadedBy('./src/entry/posthorn.ts');
    assert.ok(loaded.has('msgpackr'), `the trace sees packages (${[...loaded].join(', ')})`);
    for (const heavy of ['ioredis', 'pg', 'fastify', 'ws', 'undici', 'pino', 'nodemailer', 'fast-check']) {
      assert.ok(!loaded.has(heavy), `importing posthorn loads ${heavy}`);
    }
  });

  it('posthorn/pool loads ioredis and pg only when a pool of theirs is opened', async () => {
    const loaded = await packagesLoadedBy('./src/entry/pool.ts');
    assert.ok(!loaded.has('ioredis') && !loaded.has('pg'), [...loaded].join(', '));
  });

  it('posthorn/client loads undici and nothing of the server (no fastify, ioredis, pg, ws, pino)', async () => {
    const loaded = await packagesLoadedBy('./src/entry/client.ts');
    assert.ok(loaded.has('undici'), `the trace sees packages (${[...loaded].join(', ')})`);
    // msgpackr is allowed: core (which the Worker's part of this entry imports) encodes with it.
    for (const heavy of ['fastify', 'ioredis', 'pg', 'ws', 'pino', 'jose', 'nodemailer', 'prom-client']) {
      assert.ok(!loaded.has(heavy), `importing posthorn/client loads ${heavy}`);
    }
  });

  it('posthorn/redis and posthorn/postgres load their client', async () => {
    assert.ok((await packagesLoadedBy('./src/entry/redis.ts')).has('ioredis'));
    assert.ok((await packagesLoadedBy('./src/entry/postgres.ts')).has('pg'));
  });

  it('package.json exports one entry per file of src/entry, and the CLI', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
      bin: Record<string, string>;
      main: string;
    };
    const files = readdirSync(join(root, 'src', 'entry'))
      .filter((f) => f.endsWith('.ts') && f !== 'shared-types.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    const exported = Object.entries(pkg.exports)
      .filter(([, target]) => typeof target === 'object')
      .map(([path, target]) => {
        const name = path === '.' ? 'posthorn' : path.slice(2);
        assert.deepEqual(target, { types: `./dist/entry/${name}.d.ts`, default: `./dist/entry/${name}.js` }, path);
        return name;
      })
      .sort();
    assert.deepEqual(exported, files);
    assert.equal(pkg.main, 'dist/entry/posthorn.js');
    assert.equal(pkg.bin.posthorn, 'dist/cli/main.js');
  });
});
