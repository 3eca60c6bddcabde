import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { adminQuery, DATABASE_URL, dropSchema, freshSchema, withPostgres } from './postgres-support.js';

const worker = join(import.meta.dirname, '..', 'fixtures', 'postgres-worker.ts');

/** The worker's connections carry this name, so the test can see when the server has let them go. */
const applicationName = (schema: string) => `posthorn-crash-${schema}`;

/**
 * Starts the worker and resolves once it has acknowledged enough work (60 posts, 10 deletes)
 * and `extra` further ids.
 */
function startWorker(schema: string, ackFile: string, extra: number) {
  const url = new URL(DATABASE_URL);
  url.searchParams.set('application_name', applicationName(schema));
  const child = spawn(process.execPath, ['--import', 'tsx', worker, url.href, schema, ackFile, String(extra)], {
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
    const timer = setTimeout(() => reject(new Error(`worker not ready in 60 s: ${stderr}`)), 60_000);
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

/**
 * Resolves once the server has no session left of the killed worker. Statements the worker sent
 * before it died may still be running (or a COMMIT still waiting in the socket); once its
 * sessions are gone, each of its transactions has committed or rolled back, and nothing changes
 * the schema behind the test's back.
 */
async function sessionsGone(schema: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await adminQuery<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [applicationName(schema)],
    );
    if (Number(rows[0]?.n) === 0) return;
    if (Date.now() > deadline) throw new Error(`the killed worker's ${rows[0]?.n} sessions still open after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Acks {
  posted: string[];
  claimed: Set<string>;
  /** Ids the worker was about to delete: their delete may have reached the server. */
  deleting: Set<string>;
  deleted: Set<string>;
}

function readAcks(file: string): Acks {
  const acks: Acks = { posted: [], claimed: new Set(), deleting: new Set(), deleted: new Set() };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([PCdD]) ([0-9a-f]{32})$/.exec(line);
    if (!match) continue;
    const id = match[2] as string;
    if (match[1] === 'P') acks.posted.push(id);
    else if (match[1] === 'C') acks.claimed.add(id);
    else if (match[1] === 'd') acks.deleting.add(id);
    else acks.deleted.add(id);
  }
  return acks;
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
      const extras: number[] = [];
      for (let round = 0; round < 2; round++) {
        // The kill lands after a different amount of work each time (the assertions hold for any).
        const extra = Math.floor(Math.random() * 400);
        extras.push(extra);
        const { child, ready, exited } = startWorker(schema, ackFile, extra);
        await ready;
        child.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
        await sessionsGone(schema);
      }

      const { posted, claimed, deleting, deleted } = readAcks(ackFile);
      // Each worker said ready only after 60 acknowledged posts and 10 acknowledged deletes.
      assert.ok(
        posted.length >= 120 && deleted.size >= 20,
        `both workers did their share (${posted.length}, ${deleted.size}; extra ${extras})`,
      );
      const driver = await createPostgresDriver({ url: DATABASE_URL, schema });
      try {
        const present = await allIds(driver, 'crash', 'crash', { includeDelayed: true });
        const presentSet = new Set(present);
        assert.equal(presentSet.size, present.length, 'no message is stored twice');
        // Absent without an acknowledged delete is fine only for a message whose delete the worker
        // had recorded as about to be sent when the kill came: that delete may have committed.
        const unsettled = posted.filter((id) => !presentSet.has(id) && !deleted.has(id));
        const lost = unsettled.filter((id) => !deleting.has(id));
        assert.deepEqual(
          lost,
          [],
          `every acknowledged post that was not deleted is there, or was being deleted at a kill (${unsettled.length} unsettled, extra ${extras})`,
        );
        const back = [...deleted].filter((id) => presentSet.has(id));
        assert.deepEqual(back, [], 'no acknowledged delete came back');
        // (A deleted message may lack its "P": a post can commit and the kill come before its line.)
        for (const id of deleting) assert.ok(claimed.has(id), 'every delete was sent after its claim was acknowledged');
        for (const id of deleted)
          assert.ok(deleting.has(id), 'every acknowledged delete was recorded before it was sent');
        // The killed worker's claims still hold their messages until they expire.
        const stats = await driver.queues.stats('crash', 'crash');
        assert.equal(stats.total, present.length);
      } finally {
        await driver.close();
      }
    });
  });
});
