// `npm run bench`: every benchmark in turn (each also runs alone as `npm run bench:<name>`).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const scripts = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).scripts).filter((s) =>
  s.startsWith('bench:'),
);
let failed = 0;
for (const script of scripts) {
  const run = spawnSync('npm', ['run', '--silent', script], { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`${script} failed with status ${run.status}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
