import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from '../store/postgres-support.js';
import { REDIS_URL, redisAnswers, suiteNeeding, uniquePrefix } from '../store/redis/support.js';

/**
 * SIGKILL of a worker process mid-batch: a victim process holds leases on hung handlers and is
 * killed; two survivor processes complete every message exactly once, the victim's after its
 * leases expire. Completions are counted from a side file each process appends to once the
 * store's fenced delete succeeded.
 */
const fixture = join(import.meta.dirname, '..', 'fixtures', 'worker-process.ts');
const dir = mkdtempSync(join(tmpdir(), 'posthorn-worker-kill-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const TOTAL = 200;

function startWorker(args: string[]): { child: ChildProcess; said: (line: string) => Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) if (out.includes(`${w.line}\n`)) w.resolve();
  });
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      if (out.includes(`${line}\n`)) return resolve();
      waiters.push({ line, resolve });
      child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before "${line}"`)));
    });
  return { child, said };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function lines(sideFile: string, tag: string): [id: string, pid: number][] {
  let text = '';
  try {
    text = readFileSync(sideFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => {
      const [, id, pid] = l.split(' ');
      return [id as string, Number(pid)];
    });
}

async function killMidBatch(kind: string, url: string, where: string, driver: DataDriver): Promise<void> {
  const queue = `kill-${kind}`;
  const sideFile = join(dir, `${kind}.side`);
  const posted = new Set<string>();
  for (let i = 0; i < TOTAL; i += 50) {
    const ids = await driver.messages.post(
      'kill',
      queue,
      Array.from({ length: 50 }, (_, n) => ({ body: { n: i + n } })),
      'producer',
    );
    for (const id of ids) posted.add(id);
  }
  const args = (role: string) => [kind, url, where, queue, role, sideFile];
  const victim = startWorker(args('victim'));
  await victim.said('mid-batch');
  const survivors = [startWorker(args('survivor')), startWorker(args('survivor'))];
  await Promise.all(survivors.map((s) => s.said('ready')));
  victim.child.kill('SIGKILL');
  await exited(victim.child);
  const victimPid = victim.child.pid as number;
  const hung = new Set(
    lines(sideFile, 'S')
      .filter(([, pid]) => pid === victimPid)
      .map(([id]) => id),
  );
  const victimDone = new Set(
    lines(sideFile, 'C')
      .filter(([, pid]) => pid === victimPid)
      .map(([id]) => id),
  );
  for (const id of victimDone) hung.delete(id);
  assert.ok(hung.size >= 10, `the victim was killed holding ${hung.size} running jobs`);

  // Wait (a hang guard, not a timing bound) until every message has a completion.
  const deadline = Date.now() + 120_000;
  while (new Set(lines(sideFile, 'C').map(([id]) => id)).size < TOTAL) {
    assert.ok(Date.now() < deadline, 'survivors did not complete every message within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const s of survivors) s.child.kill('SIGTERM');
  await Promise.all(survivors.map((s) => exited(s.child)));

  const completions = lines(sideFile, 'C');
  const seen = new Map<string, number>();
  for (const [id] of completions) seen.set(id, (seen.get(id) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(duplicates, [], 'no message completed twice');
  assert.deepEqual(new Set(seen.keys()), posted, 'every posted message completed, none other');
  const survivorPids = new Set(survivors.map((s) => s.child.pid));
  for (const id of hung) {
    const by = completions.find(([c]) => c === id)?.[1];
    assert.ok(by !== undefined && survivorPids.has(by), `job ${id} of the killed victim was completed by a survivor`);
  }
  assert.equal((await driver.queues.stats('kill', queue)).total, 0);
}

const redisReachable = await redisAnswers(REDIS_URL);
suiteNeeding('worker SIGKILL over redis', redisReachable ? null : `no Redis answers at ${REDIS_URL}`, () => {
  it('a worker process killed mid-batch: survivors complete every message exactly once', async () => {
    const prefix = uniquePrefix();
    const driver = await createRedisDriver({ url: REDIS_URL, keyPrefix: prefix, logger: silentLogger });
    try {
      await killMidBatch('redis', REDIS_URL, prefix, driver);
    } finally {
      await driver.close();
    }
  });
});

await withPostgres('worker SIGKILL over postgres', () => {
  it('a worker process killed mid-batch over postgres: survivors complete every message exactly once', async () => {
    const schema = freshSchema('worker_kill');
    const driver = await createPostgresDriver({ url: DATABASE_URL, schema });
    try {
      await killMidBatch('postgres', DATABASE_URL, schema, driver);
    } finally {
      await driver.close();
      await dropSchema(schema);
    }
  });
});
