// Builds dist/ from src/: a clean folder first (a module moved or deleted in src/ must not
// linger in the package), then the TypeScript compiler, then the files that are not TypeScript.
// Runs on `npm ci` and `npm install` (prepare) and before `npm pack` and `npm publish` (prepack).
// npm runs prepare on pack too, after prepack: that second build is skipped.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

if (process.argv.includes('--prepare') && ['pack', 'publish'].includes(process.env.npm_command ?? '')) {
  console.error('dist/ was built by prepack');
  process.exit(0);
}
const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });
const tscPath = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
// Its output goes to stderr: `npm pack --json` runs this script and its stdout must stay JSON.
const tsc = spawnSync(process.execPath, [tscPath, '-p', 'tsconfig.build.json'], {
  stdio: ['ignore', process.stderr, process.stderr],
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
chmodSync('dist/cli/main.js', 0o755);
// The web console is plain browser files (no build step): copied as they are.
cpSync('src/console', 'dist/console', { recursive: true });
// The Redis driver's Lua scripts are read next to the module that loads them.
cpSync('src/store/redis/lua', 'dist/store/redis/lua', { recursive: true });
