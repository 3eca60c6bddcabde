import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';

const worker = join(import.meta.dirname, '..', 'fixtures', 'postgres-worker.ts');

/** Starts the worker and resolves once it has acknowledged some work. */
function startWorker(schema: string, ackFile: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, DATABASE_URL, schema, ackFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready in 30 s: ${stderr}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${how}) before it was ready: ${stderr}`));
    });
  });
  return { child, ready, exited };
}

function readAcks(file: string): { posted: string[]; claimed: Set<string>; deleted: Set<string> } {
  const posted: string[] = [];
  const claimed = new Set<string>();
  const deleted = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([PCD]) ([0-9a-f]{32})$/.exec(line);
    if (!match) continue;
    const id = match[2] as string;
    if (match[1] === 'P') posted.push(id);
    else if (match[1] === 'C') claimed.add(id);
    else deleted.add(id);
  }
  return { posted, claimed, deleted };
}

await withPostgres('postgres: SIGKILL', () => {
  describe('postgres: a client killed with SIGKILL', () => {
    const schema = freshSchema('crash');
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-pg-crash-'));
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await dropSchema(schema);
    });

    it('loses no acknowledged post and brings back no acknowledged delete', async () => {
      // Migrate first, so the worker's open is quick.
      await (await createPostgresDriver({ url: DATABASE_URL, schema })).close();
      const ackFile = join(dir, 'acks');
      for (let round = 0; round < 2; round++) {
        const { child, ready, exited } = startWorker(schema, ackFile);
        await ready;
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 600));
        child.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
      }

      const { posted, claimed, deleted } = readAcks(ackFile);
      assert.ok(posted.length > 100 && deleted.size > 10, `enough work happened (${posted.length}, ${deleted.size})`);
      const driver = await createPostgresDriver({ url: DATABASE_URL, schema });
      try {
        const present = await allIds(driver, 'crash', 'crash', { includeDelayed: true });
        const presentSet = new Set(present);
        assert.equal(presentSet.size, present.length, 'no message is stored twice');
        // Absent without an acknowledged delete is fine only for a message the worker held by an
        // acknowledged claim: its delete may have committed just before the kill.
        const lost = posted.filter((id) => !presentSet.has(id) && !deleted.has(id) && !claimed.has(id));
        assert.deepEqual(lost, [], 'every acknowledged post that was not deleted is there');
        const unsettled = posted.filter((id) => !presentSet.has(id) && !deleted.has(id)).length;
        assert.ok(unsettled <= 20, `at most the deletes in flight at each kill are unsettled (${unsettled})`);
        const back = [...deleted].filter((id) => presentSet.has(id));
        assert.deepEqual(back, [], 'no acknowledged delete came back');
        // (A deleted message may lack its "P": a post can commit and the kill come before its line.)
        for (const id of deleted) assert.ok(claimed.has(id), 'every acknowledged delete followed its claim');
        // The killed worker's claims still hold their messages until they expire.
        const stats = await driver.queues.stats('crash', 'crash');
        assert.equal(stats.total, present.length);
      } finally {
        await driver.close();
      }
    });
  });
});
