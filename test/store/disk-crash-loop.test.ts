/**
 * A store killed again and again before it writes a segment's worth in one life must still
 * snapshot: otherwise every restart replays the whole log since the last clean stop, and restarts
 * grow slower without bound (the soak of issue 12 saw 30 s). Crash copies of the folder stand for
 * the kills (the store is never closed, so no closing snapshot is written).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-crash-loop-'));
after(() => rmSync(root, { recursive: true, force: true }));
const segmentSize = 64 * 1024;
const options = { logger: silentLogger, gcIntervalMs: 0, segmentSize };
const body = 'b'.repeat(2000);

/** Posts about a third of a segment, then leaves the store as a SIGKILL would: a copy, not a close. */
async function oneLife(dir: string, next: string, life: number): Promise<{ store: DiskDriver; replayed: number }> {
  const store = await createDiskDriver({ dir, ...options });
  const replayed = store.openStats().replayedBytes;
  for (let k = 0; k < 10; k++) await store.messages.post('p', 'q', [{ body: `${life}-${k}-${body}` }], 'c');
  // gc waits for a snapshot being written (or writes a due one): the "kill" comes after it.
  await store.gc();
  cpSync(dir, next, { recursive: true });
  rmSync(join(next, '.lock'), { force: true });
  return { store, replayed };
}

describe('disk store: a crash loop', () => {
  it('snapshots across lives, so what a restart replays stays bounded', async () => {
    let dir = join(root, 'life-0');
    const open: DiskDriver[] = [];
    const replays: number[] = [];
    try {
      for (let life = 0; life < 12; life++) {
        const next = join(root, `life-${life + 1}`);
        const { store, replayed } = await oneLife(dir, next, life);
        open.push(store);
        replays.push(replayed);
        dir = next;
      }
      const last = await createDiskDriver({ dir, ...options });
      open.push(last);
      replays.push(last.openStats().replayedBytes);
      // 12 lives of ~20 KB each wrote ~4 segments; a snapshot is due once a segment's worth is
      // unsnapshotted, so no open replays more than that plus the one life after the threshold.
      const bound = segmentSize + 10 * (body.length + 200);
      assert.ok(
        replays.every((r) => r <= bound),
        `replayed bytes per open: ${replays.join(', ')} (bound ${bound})`,
      );
      assert.equal((await last.queues.stats('p', 'q')).total, 120, 'every acknowledged post is there');
    } finally {
      for (const s of open) await s.close().catch(() => {});
    }
  });
});
