// Checks the package as its users get it: builds and packs it, looks at what the tarball holds,
// installs it into two scratch projects — one without the optional dependencies (fastify, ioredis,
// pg: the embedded store only), one with them — and runs the smoke scripts of test/package there
// with plain node. Run by .ci/run after the tests; `npm run check:package` runs it alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'posthorn-package-'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function step(text) {
  console.log(`\n-- ${text}`);
}

function run(command, args, cwd, options = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', ...options });
  if (result.status !== (options.expectStatus ?? 0)) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

function project(name, installArgs) {
  const dir = join(scratch, name);
  cpSync(join(root, 'test', 'package'), dir, { recursive: true, filter: (f) => !f.endsWith('.test.ts') });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `posthorn-${name}`, private: true, type: 'module' }));
  run('npm', ['install', tarball, '--no-audit', '--no-fund', ...installArgs], dir, { stdio: 'inherit' });
  return dir;
}

let tarball;
try {
  step('npm pack (prepack builds dist/)');
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' }),
  )[0];
  tarball = join(scratch, packed.filename);
  const files = new Set(packed.files.map((f) => f.path));
  const wanted = ['LICENSE', 'README.md', 'package.json', 'posthorn.example.toml', 'examples/posthorn.service'];
  for (const target of Object.values(pkg.exports)) {
    if (typeof target === 'object') wanted.push(target.default.slice(2), target.types.slice(2));
  }
  wanted.push(pkg.bin.posthorn);
  const missing = wanted.filter((f) => !files.has(f));
  const stray = [...files].filter((f) => /^(src|test|bench|scripts)\//.test(f) || f.endsWith('.map'));
  if (missing.length > 0 || stray.length > 0) {
    throw new Error(
      `the tarball lacks ${missing.join(', ') || 'nothing'} and holds ${stray.join(', ') || 'nothing'} it should not`,
    );
  }
  console.log(`${packed.filename}: ${packed.files.length} files, ${packed.size} bytes`);

  step('API: every type an entry point uses is exported from it');
  run(process.execPath, [join(root, 'scripts', 'check-api.mjs')], root, { stdio: 'inherit' });

  step('installed without optional dependencies: the embedded store, the spools, the client, the CLI');
  const slim = project('slim', ['--omit=optional']);
  for (const absent of ['fastify', 'ioredis', 'pg']) {
    if (existsSync(join(slim, 'node_modules', absent))) throw new Error(`--omit=optional installed ${absent}`);
  }
  run(process.execPath, ['smoke-embedded.mjs'], slim, { stdio: 'inherit' });
  run(process.execPath, ['smoke-client.mjs'], slim, { stdio: 'inherit' });
  const help = run('npx', ['posthorn', '--help'], slim);
  if (!/Usage: posthorn/.test(help.stdout)) throw new Error(`npx posthorn --help printed:\n${help.stdout}`);
  const refused = run('npx', ['posthorn', 'serve'], slim, { expectStatus: 1 });
  if (!/needs the fastify package/.test(refused.stderr)) {
    throw new Error(`serve without fastify said:\n${refused.stderr}`);
  }
  console.log('npx posthorn --help, and serve without fastify says what to install: ok');

  step('installed with its dependencies: npx posthorn serve, posthorn/server, /redis, /postgres, /pool, /conformance');
  const full = project('full', []);
  run(process.execPath, ['smoke-server.mjs'], full, { stdio: 'inherit' });
  run(process.execPath, ['--test', '--test-reporter=dot', 'smoke-conformance.mjs'], full, { stdio: 'inherit' });
  console.log('\npackage: ok');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
