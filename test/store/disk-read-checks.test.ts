/**
 * The disk store checks every body it reads back from a log segment (issue 12, defects 1-3): a
 * body changed on disk is never served as data, a damaged message is set aside without taking
 * its neighbours down, and a segment missing at open is reported with the ids it held.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rejectsWith } from '../../src/conformance/harness.js';
import { DamagedMessageError, silentLogger } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver, type DiskDriverOptions } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-read-checks-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${n++}`);
const open = (dir: string, options: Partial<DiskDriverOptions> = {}) =>
  createDiskDriver({ dir, logger: silentLogger, gcIntervalMs: 0, ...options });

const bodyOf = (k: number) => `body-${String(k).padStart(5, '0')}-${'x'.repeat(4000)}`;

/** Posts `count` messages one by one, closes (a snapshot is written); returns id -> body. */
async function filled(dir: string, count: number, options: Partial<DiskDriverOptions> = {}) {
  const store = await open(dir, options);
  const posted = new Map<string, string>();
  for (let k = 0; k < count; k++) {
    const [id] = await store.messages.post('p', 'q', [{ body: bodyOf(k) }], 'c');
    posted.set(id as string, bodyOf(k));
  }
  await store.close();
  return posted;
}

function segments(dir: string): string[] {
  return readdirSync(join(dir, 'log'))
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => join(dir, 'log', f));
}

/** Every message reachable by listing, page by page (claimed ones included). */
async function listAll(store: DiskDriver): Promise<Map<string, unknown>> {
  const seen = new Map<string, unknown>();
  let marker: string | null | undefined;
  for (;;) {
    const page = await store.messages.list('p', 'q', {
      limit: 7,
      marker: marker ?? undefined,
      echo: true,
      includeClaimed: true,
    });
    if (page.messages.length === 0) return seen;
    for (const m of page.messages) seen.set(m.id, m.body);
    marker = page.marker;
  }
}

/** Changes one byte inside the body of message k, wherever its segment is. */
function flipInBody(dir: string, k: number): void {
  const marker = Buffer.from(`body-${String(k).padStart(5, '0')}-`);
  for (const path of segments(dir)) {
    const file = readFileSync(path);
    const at = file.indexOf(marker);
    if (at < 0) continue;
    file[at + marker.length + 100] = (file[at + marker.length + 100] as number) ^ 0x01;
    writeFileSync(path, file);
    return;
  }
  throw new Error(`body ${k} not found`);
}

describe('disk store: every body read is checked', () => {
  it('a byte changed in a snapshot-covered body is reported, set aside and never served (defect 1)', async () => {
    const dir = freshDir();
    const posted = await filled(dir, 60);
    const ids = [...posted.keys()];
    const victim = ids[3] as string;
    flipInBody(dir, 3);
    const store = await open(dir);
    try {
      await rejectsWith(store.messages.get('p', 'q', victim), DamagedMessageError);
      const listed = await listAll(store);
      assert.equal(listed.has(victim), false, 'the damaged message is not listed');
      for (const [id, body] of posted) if (id !== victim) assert.equal(listed.get(id), body, `message ${id} intact`);
      assert.equal(listed.size, posted.size - 1);
      const reports = store.damageReports();
      assert.ok(
        reports.some((r) => r.lostMessageIds.includes(victim)),
        'the damage report names the message',
      );
      assert.ok(
        reports.every((r) => r.lostMessageIds.length > 0),
        'no report without ids',
      );
      assert.deepEqual(
        store.setAside().map((m) => m.id),
        [victim],
      );
    } finally {
      await store.close();
    }
    // damage.log is appended off the read that found the damage (reads are synchronous), and
    // close waits for that append: read it after close, not while the append may be under way.
    assert.match(readFileSync(join(dir, 'damage.log'), 'utf8'), new RegExp(victim));
    // The setting aside is for good: the next open agrees and serves the rest.
    const again = await open(dir);
    try {
      const listed = await listAll(again);
      assert.equal(listed.size, posted.size - 1);
      assert.equal(listed.has(victim), false);
    } finally {
      await again.close();
    }
  });

  it('a zeroed 4 KiB block: neighbours keep working, claims take only intact messages (defect 2)', async () => {
    const dir = freshDir();
    const posted = await filled(dir, 80);
    const [seg] = segments(dir) as [string];
    const file = readFileSync(seg);
    const from = Math.floor(file.length / 2);
    file.fill(0, from, from + 4096);
    writeFileSync(seg, file);
    const store = await open(dir);
    try {
      // Claim everything in rounds: every claim returns its id with only intact messages in it.
      const claimed = new Map<string, unknown>();
      for (;;) {
        const claim = await store.claims.create('p', 'q', { ttl: 300, grace: 60, limit: 9 });
        if (!claim) break;
        assert.ok(claim.id, 'a claim always has an id');
        for (const m of claim.messages) {
          assert.equal(m.body, posted.get(m.id), `claimed message ${m.id} is as posted`);
          claimed.set(m.id, m.body);
        }
        if (claim.messages.length === 0) break;
      }
      const damagedIds = store.setAside().map((m) => m.id);
      assert.ok(damagedIds.length >= 1, 'the zeroed block hit at least one body');
      assert.equal(claimed.size + damagedIds.length, posted.size, 'every message is claimed or set aside');
      for (const id of damagedIds) assert.equal(claimed.has(id), false);
      const stats = await store.queues.stats('p', 'q');
      assert.equal(stats.claimed, claimed.size, 'nothing is claimed that was not handed out');
      const reported = new Set(store.damageReports().flatMap((r) => r.lostMessageIds));
      for (const id of damagedIds) assert.ok(reported.has(id), `${id} is reported`);
    } finally {
      await store.close();
    }
  });

  it('a deleted segment is found at open and its messages set aside with their ids (defect 3)', async () => {
    const dir = freshDir();
    const posted = await filled(dir, 60, { segmentSize: 64 * 1024 });
    const segs = segments(dir);
    assert.ok(segs.length >= 3, `several segments (${segs.length})`);
    unlinkSync(segs[0] as string);
    const store = await open(dir, { segmentSize: 64 * 1024 });
    try {
      const reports = store.damageReports();
      const lost = reports.flatMap((r) => r.lostMessageIds);
      assert.ok(lost.length > 0, 'the loss is reported with ids');
      assert.ok(
        reports.some((r) => /missing/.test(r.note)),
        'the report says the segment is missing',
      );
      const listed = await listAll(store);
      for (const id of lost) assert.equal(listed.has(id), false);
      for (const [id, body] of posted) if (!lost.includes(id)) assert.equal(listed.get(id), body);
      assert.equal(listed.size + lost.length, posted.size, 'every message is served or reported lost');
      const popped = await store.messages.pop('p', 'q', 5);
      assert.equal(popped.length, 5, 'pop works');
      for (const m of popped) assert.equal(m.body, posted.get(m.id));
    } finally {
      await store.close();
    }
  });
});

describe('disk store: cuts below what is known durable', () => {
  it('the tail of a snapshot-covered segment cut off is damage with the ids it held, not a torn write (defect 4)', async () => {
    const dir = freshDir();
    const posted = await filled(dir, 200);
    const ids = [...posted.keys()];
    // Deletes acknowledged before the snapshot must not come back either.
    const store0 = await open(dir);
    await store0.messages.bulkDelete('p', 'q', ids.slice(0, 20));
    await store0.close();
    const [seg] = segments(dir).slice(-1) as [string];
    const file = readFileSync(seg);
    writeFileSync(seg, file.subarray(0, file.length - 300 * 1024));
    const lines: { level: string; message?: string }[] = [];
    const logger = {
      info: () => {},
      warn: (_: object, message?: string) => lines.push({ level: 'warn', message }),
      error: (_: object, message?: string) => lines.push({ level: 'error', message }),
    };
    const store = await open(dir, { logger });
    try {
      assert.equal(
        lines.some((l) => /torn/.test(l.message ?? '')),
        false,
        'not called a torn write',
      );
      const lost = new Set(store.damageReports().flatMap((r) => r.lostMessageIds));
      assert.ok(lost.size >= 60, `the cut messages are reported by id (${lost.size})`);
      const listed = await listAll(store);
      for (const id of ids.slice(0, 20)) assert.equal(listed.has(id), false, 'a delete stays done');
      for (const id of ids.slice(20)) {
        if (lost.has(id)) assert.equal(listed.has(id), false);
        else assert.equal(listed.get(id), posted.get(id), `${id} is served as posted`);
      }
      assert.equal(listed.size + lost.size, ids.length - 20, 'every message is served or reported lost');
      assert.ok(store.damageReports().every((r) => r.lostMessageIds.length > 0));
    } finally {
      await store.close();
    }
  });
});

describe('disk store: seals', () => {
  it('a sealed segment cut at a record boundary in the replayed log is damage naming the lost ids (defect 4)', async () => {
    const dir = freshDir();
    const options = { segmentSize: 32 * 1024 };
    const store = await open(dir, options);
    const posted = new Map<string, string>();
    for (let k = 0; k < 30; k++) {
      const [id] = await store.messages.post('p', 'q', [{ body: bodyOf(k) }], 'c');
      posted.set(id as string, bodyOf(k));
    }
    // A crash after the acknowledgements: a copy of the folder as it is on disk, no snapshot.
    const copy = freshDir();
    cpSync(dir, copy, { recursive: true });
    await store.close();
    rmSync(join(copy, '.lock'), { force: true });
    rmSync(join(copy, 'snapshots'), { recursive: true, force: true });
    const segs = segments(copy);
    assert.ok(segs.length >= 3, `several segments (${segs.length})`);
    const first = readFileSync(segs[0] as string);
    const magic = Buffer.from('PHR1');
    const lastRecord = first.lastIndexOf(magic);
    assert.ok(lastRecord > 0);
    writeFileSync(segs[0] as string, first.subarray(0, lastRecord)); // one whole record gone
    const warnings: string[] = [];
    const logger = {
      info: () => {},
      warn: (_: object, message?: string) => warnings.push(message ?? ''),
      error: () => {},
    };
    const again = await open(copy, { ...options, logger });
    try {
      const lost = again.damageReports().flatMap((r) => r.lostMessageIds);
      assert.ok(lost.length >= 1, 'the cut post is named');
      assert.equal(
        warnings.some((w) => /torn/.test(w)),
        false,
      );
      const listed = await listAll(again);
      for (const id of lost) assert.equal(listed.has(id), false);
      for (const [id, body] of posted) if (!lost.includes(id)) assert.equal(listed.get(id), body);
      assert.equal(listed.size + lost.length, posted.size);
    } finally {
      await again.close();
    }
  });
});

describe('disk store: a missing segment in the replayed log', () => {
  it('is named by the seal of the segment after it, with the ids of the posts it held', async () => {
    const dir = freshDir();
    const options = { segmentSize: 32 * 1024 };
    const store = await open(dir, options);
    const posted = new Map<string, string>();
    for (let k = 0; k < 40; k++) {
      const [id] = await store.messages.post('p', 'q', [{ body: bodyOf(k) }], 'c');
      posted.set(id as string, bodyOf(k));
    }
    const copy = freshDir();
    cpSync(dir, copy, { recursive: true });
    await store.close();
    rmSync(join(copy, '.lock'), { force: true });
    rmSync(join(copy, 'snapshots'), { recursive: true, force: true });
    const segs = segments(copy);
    assert.ok(segs.length >= 4, `several segments (${segs.length})`);
    unlinkSync(segs[1] as string);
    const again = await open(copy, options);
    try {
      const lost = again.damageReports().flatMap((r) => r.lostMessageIds);
      assert.ok(lost.length >= 1, 'the posts of the missing segment are named');
      const listed = await listAll(again);
      for (const [id, body] of posted) if (!lost.includes(id)) assert.equal(listed.get(id), body);
      assert.equal(listed.size + lost.length, posted.size);
    } finally {
      await again.close();
    }
  });
});
