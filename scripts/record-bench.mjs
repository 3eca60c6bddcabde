// Runs benchmarks and appends their figures to bench/RESULTS.md as a dated section with the
// machine they ran on, so results are recorded exactly as printed.
// Usage: node scripts/record-bench.mjs store http spool ...   (names of bench:* scripts)
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: node scripts/record-bench.mjs <bench name>...');
  process.exit(2);
}
const RESULTS = 'bench/RESULTS.md';
if (!existsSync(RESULTS)) writeFileSync(RESULTS, '# Benchmark results\n');

const load = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`;
let section = `\n## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${names.join(', ')}\n\nMachine: ${machine}. Load average before: ${load}.\n`;

for (const name of names) {
  const run = spawnSync('npm', ['run', '--silent', `bench:${name}`], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  const rows = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  // Every field any row has, in the order they first appear (so no figure a bench prints is left out).
  const used = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => c !== 'bench' && c !== 'note');
  if (rows.some((r) => r.note !== undefined)) used.push('note'); // the long text last
  section += `\n### bench:${name}${run.status === 0 ? '' : ` (exited with ${run.status})`}\n\n| ${used.join(' | ')} |\n|${used.map(() => ' --- ').join('|')}|\n`;
  for (const r of rows) section += `| ${used.map((c) => String(r[c] ?? '').replaceAll('|', '/')).join(' | ')} |\n`;
}
appendFileSync(RESULTS, section);
console.error(`recorded in ${RESULTS}`);
