/**
 * The disk store's promises, checked by killing it: a child process runs a mixed load and
 * records every acknowledgement in a side file; it is killed with SIGKILL at a random moment;
 * the store is opened again and every promise is checked against the side file.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { startReadyChild } from '../fixtures/ready-child.js';

const worker = new URL('../fixtures/disk-crash-worker.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'posthorn-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20);

/**
 * Starts a worker; resolves once it holds a claim it will not touch again, on a message it posted,
 * and has written `extra` more acknowledgements (so the kill lands at a different point each round).
 */
function startWorker(dir: string, side: string, seed: number, extra: number): Promise<ChildProcess> {
  return startReadyChild(worker, [dir, side, String(seed), String(extra)]);
}

interface Ledger {
  posted: Map<string, string>; // id -> queue
  /** Deletes asked for, acknowledged or not: such a message may be gone. */
  deleting: Set<string>;
  deleted: Set<string>;
  claims: Map<string, { queue: string; expiresAt: number; ids: string[] }>;
  releasing: Set<string>;
}

function readLedger(side: string): Ledger {
  const ledger: Ledger = {
    posted: new Map(),
    deleting: new Set(),
    deleted: new Set(),
    claims: new Map(),
    releasing: new Set(),
  };
  if (!existsSync(side)) return ledger;
  for (const line of readFileSync(side, 'utf8').split('\n')) {
    const [kind, queue, ...rest] = line.split(' ');
    if (!kind || !queue) continue;
    if (kind === 'P') ledger.posted.set(rest[0] as string, queue);
    else if (kind === 'd') ledger.deleting.add(rest[0] as string);
    else if (kind === 'D') ledger.deleted.add(rest[0] as string);
    else if (kind === 'X') for (const id of rest) ledger.deleted.add(id);
    else if (kind === 'C')
      ledger.claims.set(rest[0] as string, { queue, expiresAt: Number(rest[1]), ids: rest.slice(2) });
    else if (kind === 'r') ledger.releasing.add(rest[0] as string);
  }
  return ledger;
}

describe('disk store: SIGKILL at random moments', () => {
  it(`keeps every promise across ${ROUNDS} kills`, { timeout: 600_000 }, async () => {
    const dir = join(root, 'store');
    const side = join(root, 'acks.log');
    let checkedPosts = 0;
    let checkedClaims = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const child = await startWorker(dir, side, round * 7919 + 1, Math.floor(Math.random() * 300));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));

      const ledger = readLedger(side);
      const store = await createDiskDriver({ dir, logger: silentLogger, gcIntervalMs: 0 });
      try {
        assert.deepEqual(store.damageReports(), [], `round ${round}: a crash is not damage`);
        for (const q of ['alpha', 'beta', 'gamma']) {
          assert.deepEqual(await store.queues.getMetadata('crash', q), { owner: 'crash-test', queue: q });
        }
        assert.ok(await store.subscriptions.getBySubscriber('crash', 'alpha', 'http://hook.test/crash'));
        const present = new Map<string, number>();
        for (const q of ['alpha', 'beta', 'gamma', 'delta']) {
          if (!(await store.queues.exists('crash', q))) continue;
          for (const id of await allIds(store, 'crash', q, { includeDelayed: true }))
            present.set(id, (present.get(id) ?? 0) + 1);
        }
        for (const [id, count] of present)
          assert.equal(count, 1, `round ${round}: message ${id} is there ${count} times`);
        for (const [id, queue] of ledger.posted) {
          if (ledger.deleted.has(id)) {
            assert.equal(present.has(id), false, `round ${round}: acknowledged delete of ${id} came back`);
          } else if (!ledger.deleting.has(id) && queue !== 'delta') {
            assert.equal(present.get(id), 1, `round ${round}: acknowledged post ${id} is missing`);
            assert.equal((await store.messages.get('crash', queue, id)).id, id);
            checkedPosts++;
          }
        }
        for (const [claimId, claim] of ledger.claims) {
          if (ledger.releasing.has(claimId)) continue;
          const live = claim.ids.filter((id) => !ledger.deleting.has(id) && !ledger.deleted.has(id));
          if (live.length === 0) continue;
          const got = await store.claims.get('crash', claim.queue, claimId);
          assert.equal(got.expiresAt, claim.expiresAt, `round ${round}: claim ${claimId} lost its expiry`);
          assert.deepEqual(
            got.messages
              .map((m) => m.id)
              .filter((id) => live.includes(id))
              .sort(),
            [...live].sort(),
            `round ${round}: claim ${claimId} lost messages`,
          );
          checkedClaims++;
        }
      } finally {
        await store.close();
      }
    }
    assert.ok(checkedPosts > 0 && checkedClaims > 0, 'the workers got work acknowledged');
    process.stdout.write(
      `# checked ${checkedPosts} acknowledged posts and ${checkedClaims} live claims over ${ROUNDS} kills\n`,
    );
  });
});
