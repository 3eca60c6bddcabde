/**
 * The damage matrix (issue 12): for each kind of damage and each place, the disk store opens,
 * every message it serves is exactly as posted, and every acknowledged message it does not serve
 * is named in a damage report — a cut of the newest, never-sealed, never-snapshotted tail too,
 * which the tail index tells apart from a torn write.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-matrix-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${n++}`);
const options = { logger: silentLogger, gcIntervalMs: 0, segmentSize: 48 * 1024 };
const bodyOf = (k: number) => `body-${String(k).padStart(5, '0')}-${'z'.repeat(3000)}`;
const MAGIC = Buffer.from('PHR1');

type Place = 'snapshot-covered middle' | 'newest record' | 'replayed tail';
type Kind =
  | 'flip a body byte'
  | 'flip a header byte'
  | 'flip a snapshot byte'
  | 'zero a 4 KiB block'
  | 'truncate by a record'
  | 'truncate by a megabyte'
  | 'delete a segment'
  | 'delete the snapshots';

/** Makes a store; for 'replayed tail' the last posts are after the snapshot (a crash copy). */
async function build(place: Place): Promise<{ dir: string; posted: Map<string, string> }> {
  const dir = freshDir();
  const posted = new Map<string, string>();
  const post = async (store: DiskDriver, from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const [id] = await store.messages.post('p', 'q', [{ body: bodyOf(k) }], 'c');
      posted.set(id as string, bodyOf(k));
    }
  };
  const store = await createDiskDriver({ dir, ...options });
  await post(store, 0, 40);
  await store.close(); // a snapshot
  if (place !== 'replayed tail') return { dir, posted };
  const again = await createDiskDriver({ dir, ...options });
  await post(again, 40, 70);
  const copy = freshDir();
  cpSync(dir, copy, { recursive: true }); // as a crash leaves it: acknowledged, no snapshot
  await again.close();
  rmSync(join(copy, '.lock'), { force: true });
  return { dir: copy, posted };
}

function segments(dir: string): string[] {
  return readdirSync(join(dir, 'log'))
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => join(dir, 'log', f));
}

/** The file and offset a place means. */
function target(dir: string, place: Place): { file: string; at: number } {
  const segs = segments(dir);
  if (place === 'snapshot-covered middle') {
    const file = segs[Math.floor(segs.length / 3)] as string;
    return { file, at: Math.floor(statSync(file).size / 2) };
  }
  const file = segs[segs.length - 1] as string;
  const buf = readFileSync(file);
  if (place === 'newest record') return { file, at: buf.lastIndexOf(MAGIC) };
  return { file, at: Math.floor(buf.length / 2) };
}

function damage(dir: string, kind: Kind, place: Place): void {
  const { file, at } = target(dir, place);
  const buf = readFileSync(file);
  const write = (b: Buffer) => writeFileSync(file, b);
  switch (kind) {
    case 'flip a body byte': {
      const body = buf.indexOf('zzzz', at);
      buf[body + 10] = (buf[body + 10] as number) ^ 0x20;
      write(buf);
      return;
    }
    case 'flip a header byte': {
      const header = buf.lastIndexOf(MAGIC, at);
      buf[header + 6] = (buf[header + 6] as number) ^ 0x01;
      write(buf);
      return;
    }
    case 'flip a snapshot byte': {
      const snaps = readdirSync(join(dir, 'snapshots')).sort();
      const path = join(dir, 'snapshots', snaps[snaps.length - 1] as string);
      const snap = readFileSync(path);
      snap[Math.floor(snap.length / 2)] = (snap[Math.floor(snap.length / 2)] as number) ^ 0x01;
      writeFileSync(path, snap);
      return;
    }
    case 'zero a 4 KiB block':
      buf.fill(0, at, Math.min(buf.length, at + 4096));
      write(buf);
      return;
    case 'truncate by a record':
      write(buf.subarray(0, buf.lastIndexOf(MAGIC)));
      return;
    case 'truncate by a megabyte':
      write(buf.subarray(0, Math.max(0, buf.length - 1024 * 1024)));
      return;
    case 'delete a segment':
      unlinkSync(file);
      return;
    case 'delete the snapshots':
      for (const f of readdirSync(join(dir, 'snapshots'))) unlinkSync(join(dir, 'snapshots', f));
      return;
  }
}

async function listAll(store: DiskDriver): Promise<Map<string, unknown>> {
  const seen = new Map<string, unknown>();
  let marker: string | undefined;
  for (;;) {
    const page = await store.messages.list('p', 'q', { limit: 10, marker, echo: true, includeClaimed: true });
    if (page.messages.length === 0) return seen;
    for (const m of page.messages) seen.set(m.id, m.body);
    marker = page.marker ?? undefined;
  }
}

const kinds: Kind[] = [
  'flip a body byte',
  'flip a header byte',
  'flip a snapshot byte',
  'zero a 4 KiB block',
  'truncate by a record',
  'truncate by a megabyte',
  'delete a segment',
  'delete the snapshots',
];
const places: Place[] = ['snapshot-covered middle', 'newest record', 'replayed tail'];

describe('disk store: damage matrix', () => {
  for (const kind of kinds) {
    for (const place of places) {
      it(`${kind} at the ${place}`, async () => {
        const { dir, posted } = await build(place);
        damage(dir, kind, place);
        const store = await createDiskDriver({ dir, ...options });
        try {
          const listed = await listAll(store);
          for (const [id, body] of listed) assert.equal(body, posted.get(id), `${id} is served exactly as posted`);
          for (const [id, body] of posted) {
            if (!listed.has(id)) continue;
            assert.equal((await store.messages.get('p', 'q', id)).body, body);
          }
          const reported = new Set(store.damageReports().flatMap((r) => r.lostMessageIds));
          const missing = [...posted.keys()].filter((id) => !listed.has(id) && !reported.has(id));
          assert.deepEqual(missing, [], 'every acknowledged message not served is reported by id');
          // The store goes on: a post after the damage is served back.
          const [id] = await store.messages.post('p', 'q', [{ body: 'after' }], 'c');
          assert.equal((await store.messages.get('p', 'q', id as string)).body, 'after');
        } finally {
          await store.close();
        }
      });
    }
  }
});
