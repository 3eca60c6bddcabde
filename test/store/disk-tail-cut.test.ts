/**
 * A cut of the newest log records — past every seal and snapshot, where nothing later in the log
 * says they were there — is damage reported with the ids it held, not a torn write: the tail
 * index (written after each group commit's fsync, before its acknowledgement) says how far the
 * log was durable. Every store here is made by a child that is SIGKILLed after its acks.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rejectsWith } from '../../src/conformance/harness.js';
import { ignoreMissing, type Logger, MessageNotFoundError, nodeFileIo } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';
import { readTailIndex, TAIL_INDEX_FILE } from '../../src/store/disk/tail-index.js';

const tool = new URL('../fixtures/tail-tool.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'posthorn-tail-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${n++}`);

interface Made {
  ids: string[];
  deleted: string[];
  popped: string[];
}

/** Runs the tool until it has printed its acks, then SIGKILLs it: a crash after acknowledged writes. */
function crashAfter(dir: string, posts: number, deletes = 0, pops = 0): Promise<Made> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', tool, dir, String(posts), String(deletes), String(pops)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.stdout.on('data', (c) => {
      out += c;
      if (!out.includes('\n')) return;
      child.kill('SIGKILL');
      child.on('exit', () => {
        rmSync(join(dir, '.lock'), { force: true });
        resolve(JSON.parse(out) as Made);
      });
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`tail tool exited ${code}: ${err}`));
    });
  });
}

/** A made store, once per shape; each test works on a copy. */
const made = new Map<string, Promise<{ dir: string; made: Made }>>();
async function copyOf(posts: number, deletes = 0, pops = 0): Promise<{ dir: string } & Made> {
  const key = `${posts}/${deletes}/${pops}`;
  let source = made.get(key);
  if (!source) {
    const dir = freshDir();
    source = crashAfter(dir, posts, deletes, pops).then((m) => ({ dir, made: m }));
    made.set(key, source);
  }
  const { dir, made: m } = await source;
  const copy = freshDir();
  cpSync(dir, copy, { recursive: true });
  return { dir: copy, ...m };
}

interface Captured extends Logger {
  lines: { level: string; fields: object; message?: string }[];
}
function capture(): Captured {
  const lines: Captured['lines'] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
}

const open = (dir: string, logger: Logger = capture()) => createDiskDriver({ dir, logger, gcIntervalMs: 0 });

function newestSegment(dir: string): string {
  const segs = readdirSync(join(dir, 'log'))
    .filter((f) => f.endsWith('.seg'))
    .sort();
  return join(dir, 'log', segs[segs.length - 1] as string);
}

/** Cuts the newest segment before its last `records` records. */
function cutRecords(dir: string, records: number): void {
  const file = newestSegment(dir);
  const buf = readFileSync(file);
  let at = buf.length;
  for (let k = 0; k < records; k++) at = buf.lastIndexOf('PHR1', at - 1);
  truncateSync(file, at);
}

async function listed(store: DiskDriver): Promise<string[]> {
  const page = await ignoreMissing(store.messages.list('p', 'q', { limit: 20, echo: true, includeClaimed: true }), {
    messages: [],
  });
  return page.messages.map((m) => m.id);
}

const tornWarnings = (logger: Captured) =>
  logger.lines.filter((l) => l.level === 'warn' && /torn/.test(l.message ?? '')).length;

/** Posts one message and copies the folder as a crash would leave it. */
async function postThenCrashCopy(store: DiskDriver): Promise<{ copy: string; id: string }> {
  const [id] = await store.messages.post('p', 'q', [{ body: 'after' }], 'c');
  const copy = freshDir();
  cpSync(store.dir, copy, { recursive: true });
  rmSync(join(copy, '.lock'), { force: true });
  return { copy, id: id as string };
}

describe('disk store: a cut of the newest log records', () => {
  it('a cut by a record is reported with the lost id (damage.log, error log), once, and the id is never reused', async () => {
    const { dir, ids } = await copyOf(5);
    cutRecords(dir, 1);
    const logger = capture();
    const store = await open(dir, logger);
    let after: { copy: string; id: string };
    try {
      const reports = store.damageReports();
      assert.equal(reports.length, 1, 'one report');
      assert.deepEqual(reports[0]?.lostMessageIds, [ids[4]], 'the lost post is named, and only it');
      assert.equal(tornWarnings(logger), 0, 'not called a torn write');
      const errors = logger.lines.filter((l) => l.level === 'error');
      assert.ok(
        errors.some((l) => JSON.stringify(l.fields).includes(ids[4] as string)),
        'the error log names it',
      );
      const damageLog = readFileSync(join(dir, 'damage.log'), 'utf8');
      assert.ok(damageLog.includes(ids[4] as string), 'damage.log names it');
      assert.deepEqual(await listed(store), ids.slice(0, 4));
      await rejectsWith(store.messages.get('p', 'q', ids[4] as string), MessageNotFoundError);
      after = await postThenCrashCopy(store);
      assert.ok(!ids.includes(after.id), 'a new post does not get the lost id');
    } finally {
      await store.close();
    }
    const again = await open(after.copy);
    try {
      assert.deepEqual(again.damageReports(), [], 'a cut is reported once');
      assert.deepEqual(await listed(again), [...ids.slice(0, 4), after.id]);
      const [next] = await again.messages.post('p', 'q', [{ body: 'next' }], 'c');
      assert.ok(!ids.includes(next as string), 'nor a post after the next open');
    } finally {
      await again.close();
    }
  });

  it('a cut by a megabyte and a deleted newest segment name every lost id', async () => {
    for (const damage of ['megabyte', 'delete'] as const) {
      const { dir, ids } = await copyOf(5);
      const file = newestSegment(dir);
      if (damage === 'delete') unlinkSync(file);
      else truncateSync(file, Math.max(0, statSync(file).size - 1024 * 1024));
      const store = await open(dir);
      try {
        const lost = store.damageReports().flatMap((r) => r.lostMessageIds);
        assert.deepEqual(lost.sort(), [...ids].sort(), `${damage}: every post is named`);
        assert.deepEqual(await listed(store), []);
      } finally {
        await store.close();
      }
    }
  });

  it('a cut acknowledged delete or pop is done again and reported, and stays done', async () => {
    for (const shape of ['delete', 'pop'] as const) {
      const { dir, ids, deleted, popped } = await copyOf(3, shape === 'delete' ? 1 : 0, shape === 'pop' ? 1 : 0);
      const gone = shape === 'delete' ? deleted : popped;
      assert.deepEqual(gone, [ids[0]]);
      cutRecords(dir, 1); // the delete's (or the pop's) record
      const store = await open(dir);
      let after: { copy: string; id: string };
      try {
        const reports = store.damageReports();
        assert.equal(reports.length, 1, `${shape}: one report`);
        assert.deepEqual(reports[0]?.reappliedDeleteIds, gone, `${shape}: the redone delete is named`);
        assert.deepEqual(reports[0]?.lostMessageIds, [], `${shape}: no message is lost`);
        assert.deepEqual(await listed(store), ids.slice(1), `${shape}: the deleted message is not served`);
        await rejectsWith(store.messages.get('p', 'q', ids[0] as string), MessageNotFoundError);
        after = await postThenCrashCopy(store);
      } finally {
        await store.close();
      }
      const again = await open(after.copy);
      try {
        assert.deepEqual(again.damageReports(), [], `${shape}: reported once`);
        assert.deepEqual(await listed(again), [...ids.slice(1), after.id], `${shape}: the delete stays done`);
      } finally {
        await again.close();
      }
    }
  });

  it('a missing or damaged tail index: the store opens, serves everything, and reports nothing false', async () => {
    const cases: [string, (dir: string) => void][] = [
      ['missing', (dir) => unlinkSync(join(dir, 'log', TAIL_INDEX_FILE))],
      [
        'a flipped byte',
        (dir) => {
          const path = join(dir, 'log', TAIL_INDEX_FILE);
          const buf = readFileSync(path);
          const at = Math.floor(buf.length / 2);
          buf[at] = (buf[at] as number) ^ 0x40;
          writeFileSync(path, buf);
        },
      ],
      [
        'cut in half',
        (dir) =>
          truncateSync(
            join(dir, 'log', TAIL_INDEX_FILE),
            Math.floor(statSync(join(dir, 'log', TAIL_INDEX_FILE)).size / 2),
          ),
      ],
      [
        'garbage appended',
        (dir) => writeFileSync(join(dir, 'log', TAIL_INDEX_FILE), Buffer.alloc(100, 0x5a), { flag: 'a' }),
      ],
    ];
    for (const [what, harm] of cases) {
      const { dir, ids } = await copyOf(5);
      assert.ok(existsSync(join(dir, 'log', TAIL_INDEX_FILE)), 'the store keeps a tail index');
      harm(dir);
      const logger = capture();
      const store = await open(dir, logger);
      try {
        assert.deepEqual(store.damageReports(), [], `${what}: nothing is reported`);
        assert.equal(tornWarnings(logger), 0, `${what}: no torn write either`);
        assert.deepEqual(await listed(store), ids, `${what}: every message is served`);
      } finally {
        await store.close();
      }
    }
  });

  it('with the index missing a cut goes unreported (less is known), and with its last entry torn the earlier ones still count', async () => {
    {
      const { dir, ids } = await copyOf(5);
      unlinkSync(join(dir, 'log', TAIL_INDEX_FILE));
      cutRecords(dir, 1);
      const store = await open(dir);
      try {
        assert.deepEqual(store.damageReports(), []);
        assert.deepEqual(await listed(store), ids.slice(0, 4));
      } finally {
        await store.close();
      }
    }
    const { dir, ids } = await copyOf(5);
    const index = join(dir, 'log', TAIL_INDEX_FILE);
    const entries = readFileSync(index);
    truncateSync(index, entries.lastIndexOf('PHT1') + 6); // as a power loss may leave it
    cutRecords(dir, 2);
    const store = await open(dir);
    try {
      const lost = store.damageReports().flatMap((r) => r.lostMessageIds);
      assert.deepEqual(lost, [ids[3]], 'the post whose entry is intact is named; the last one is not known');
      assert.deepEqual(await listed(store), ids.slice(0, 3));
    } finally {
      await store.close();
    }
  });

  it('a real torn write (half a record past what the index saw durable) is still only a warning', async () => {
    const { dir, ids } = await copyOf(5);
    const file = newestSegment(dir);
    const bytes = readFileSync(file);
    const view = await readTailIndex(nodeFileIo, join(dir, 'log'));
    assert.equal(view.segments.get(1)?.length, bytes.length, 'the index saw the log durable to its end');
    const record = bytes.subarray(bytes.lastIndexOf('PHR1'));
    writeFileSync(file, Buffer.concat([bytes, record.subarray(0, record.length - 10)]));
    const logger = capture();
    const store = await open(dir, logger);
    try {
      assert.equal(tornWarnings(logger), 1, 'one warning');
      assert.deepEqual(store.damageReports(), [], 'no damage');
      assert.deepEqual(await listed(store), ids);
      assert.equal(statSync(file).size, bytes.length, 'the torn record is cut off');
    } finally {
      await store.close();
    }
  });
});
