/**
 * The disk store on a full disk (issue 12): posts are refused with StorageFullError while a
 * reserve is kept, so that reads, claims and deletes go on, space comes back once deleted
 * messages' segments are dropped, and nothing acknowledged is lost. Once with a FileIo that
 * reports little free space (everywhere), once on a real small tmpfs (only as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { allIds } from '../../src/conformance/cases/messages.js';
import { FakeClock, type FileIo, nodeFileIo, StorageFullError, silentLogger } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-disk-full-'));
after(() => rmSync(root, { recursive: true, force: true }));

const SEGMENT_SIZE = 64 * 1024;
const BODY = 'x'.repeat(6000);

const open = (dir: string, io: FileIo = nodeFileIo) =>
  createDiskDriver({
    dir,
    io,
    clock: new FakeClock(),
    logger: silentLogger,
    gcIntervalMs: 0,
    segmentSize: SEGMENT_SIZE,
  });

/** Posts one message at a time until one is refused; answers the acknowledged ids and the refusal. */
async function fill(store: DiskDriver, queue: string): Promise<{ ids: string[]; refusal: unknown }> {
  const ids: string[] = [];
  for (;;) {
    try {
      ids.push(...(await store.messages.post('p', queue, [{ body: { n: ids.length, pad: BODY }, ttl: 3600 }], 'c')));
    } catch (refusal) {
      return { ids, refusal };
    }
    assert.ok(ids.length < 2_000, 'the disk never filled');
  }
}

/**
 * On a full disk: reads, a claim, deletes; then every message but the last few goes, and after a
 * few gc and close/open cycles (snapshots let dead segments go) posts work again. Answers what
 * is left acknowledged.
 */
async function fullDiskCycle(dir: string, io: FileIo | undefined, onSpace: () => void): Promise<string[]> {
  let store = await open(dir, io);
  const { ids, refusal } = await fill(store, 'q');
  assert.ok(
    refusal instanceof StorageFullError,
    `a post on the full disk is refused with StorageFullError: ${refusal}`,
  );
  assert.ok(ids.length > 10, `some posts fit first (${ids.length})`);
  assert.equal(store.isFull?.(), true, 'the driver says it is full');
  // Reads work and serve every acknowledged message intact.
  assert.deepEqual(await allIds(store, 'p', 'q'), ids);
  const got = await store.messages.get('p', 'q', ids[0] as string);
  assert.deepEqual(got.body, { n: 0, pad: BODY });
  // A claim and deletes work on the full disk.
  const claim = await store.claims.create('p', 'q', { limit: 3, ttl: 60 });
  assert.equal(claim?.messages.length, 3);
  for (const m of claim?.messages ?? []) {
    await store.messages.delete('p', 'q', m.id, { claimId: claim?.id as string });
  }
  // Everything but the newest few goes; gc and reopens let the emptied segments go.
  const keep = ids.slice(-3);
  const gone = ids.slice(3, -3);
  for (let i = 0; i < gone.length; i += 20) await store.messages.bulkDelete('p', 'q', gone.slice(i, i + 20));
  for (let round = 0; round < 3; round++) {
    await store.gc();
    await store.close(); // a snapshot at close: two of them let dead segments go
    store = await open(dir, io);
  }
  await store.gc();
  onSpace();
  const later = await store.messages.post('p', 'q', [{ body: 'after', ttl: 3600 }], 'c');
  assert.deepEqual(await allIds(store, 'p', 'q'), [...keep, ...later], 'posts work again once space came back');
  await store.close();
  return [...keep, ...later];
}

describe('disk store: a full disk', { timeout: 120_000 }, () => {
  it('a disk that reports little free space: posts refused, reads/claims/deletes work, space returns', async () => {
    const dir = join(root, 'reported');
    // A pretend disk of 2 MiB holding the store's files (what they take, counted by the test).
    const SIZE = 2 * 1024 * 1024;
    const used = (path = dir): number =>
      statSync(path).isDirectory()
        ? readdirSync(path).reduce((n, f) => n + used(join(path, f)), 0)
        : Math.ceil(statSync(path).size / 4096) * 4096;
    const io: FileIo = {
      ...nodeFileIo,
      statfsSync: () => ({ bavail: Math.max(0, Math.floor((SIZE - used()) / 4096)), bsize: 4096 }),
    };
    let usedBefore = 0;
    const left = await fullDiskCycle(dir, io, () => {
      usedBefore = used();
    });
    assert.ok(usedBefore < SIZE / 2, `space came back: ${usedBefore} bytes used`);
    const again = await open(dir);
    assert.deepEqual(await allIds(again, 'p', 'q'), left, 'a reopen loses nothing acknowledged');
    await again.close();
  });

  it('on a real 2 MiB tmpfs (as root): the same', async (t) => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      const why = 'needs root on Linux to mount a small tmpfs';
      console.log(`# skipped: ${why}`);
      t.skip(why);
      return;
    }
    const mount = mkdtempSync(join(tmpdir(), 'posthorn-disk-tmpfs-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      const why = `mount -t tmpfs failed: ${(mounted.stderr || mounted.error?.message || '').trim()}`;
      rmSync(mount, { recursive: true, force: true });
      console.log(`# skipped: ${why}`);
      t.skip(why);
      return;
    }
    try {
      const dir = join(mount, 'store');
      const free = () => {
        const s = statfsSync(mount);
        return s.bavail * s.bsize;
      };
      let freeAfter = 0;
      const left = await fullDiskCycle(dir, undefined, () => {
        freeAfter = free();
      });
      assert.ok(freeAfter > 1024 * 1024, `space came back: ${freeAfter} bytes free`);
      const again = await open(dir);
      assert.deepEqual(await allIds(again, 'p', 'q'), left, 'a reopen loses nothing acknowledged');
      await again.close();
    } finally {
      spawnSync('umount', [mount]);
      rmSync(mount, { recursive: true, force: true });
    }
  });
});
