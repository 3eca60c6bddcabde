import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptDataError, decodeValue, encodeValue, type QueueMetadata, syncDir } from '../../core/index.js';
import { type BodyFreed, MessageColumns, type MessageIdCodec, StoreState } from '../state/index.js';

/**
 * A snapshot is the whole state of the store at one log position, so that opening replays only
 * the log written after it. File: "PHS1" | header length u32 | header (MessagePack: position,
 * sequence, client table, each queue's metadata, claims, subscriptions) | each queue's message
 * columns, raw | CRC-32 of all before it. It is written in the scratch folder, fsynced, renamed
 * into place and the folder fsynced, so a snapshot either is whole or is not there.
 */

const MAGIC = 0x50485331;

export interface LogPosition {
  /** The last log record the snapshot includes. */
  lsn: number;
  /** Where the record after it starts. */
  segment: number;
  offset: number;
}

interface QueueHeader {
  p: string;
  q: string;
  meta: QueueMetadata;
  n: number;
  nextClaimNum: number;
  nextSubSeq: number;
  cursorOrder: number;
  claims: [number, string, number, number, number, number, number[]][];
  subs: [string, number, string, number, number, number, Record<string, unknown>, boolean][];
  moved: [number, number][];
  checksums: [number, string][];
}

interface Header extends LogPosition {
  v: 1;
  seq: number;
  clients: string[];
  queues: QueueHeader[];
}

export function snapshotFileName(lsn: number): string {
  return `${String(lsn).padStart(16, '0')}.snap`;
}

/** Snapshots in a folder, newest first. */
export function listSnapshots(dir: string): { lsn: number; path: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{16}\.snap$/.test(f))
    .map((f) => ({ lsn: Number(f.slice(0, 16)), path: join(dir, f) }))
    .sort((a, b) => b.lsn - a.lsn);
}

/** Copies the state as it is now into buffers (synchronously, so it is one consistent instant). */
export function captureSnapshot(state: StoreState, position: LogPosition): Buffer[] {
  const queues: QueueHeader[] = [];
  const columns: Buffer[] = [];
  for (const q of state.queues()) {
    q.cols.compact();
    queues.push({
      p: q.project,
      q: q.name,
      meta: q.metadata,
      n: q.cols.length,
      nextClaimNum: q.nextClaimNum,
      nextSubSeq: q.nextSubscriptionSeq,
      cursorOrder: q.cursorOrder,
      claims: [...q.claims.values()].map((c) => [c.num, c.id, c.ttl, c.grace, c.updatedAt, c.expiresAt, c.orders]),
      subs: [...q.subscriptions.values()].map((s) => [
        s.id,
        s.seq,
        s.subscriber,
        s.ttl,
        s.createdAt,
        s.expiresAt,
        s.options,
        s.confirmed,
      ]),
      moved: [...q.movedIdOf.entries()].map(([order, seq]) => [seq, order]),
      checksums: [...q.checksums.entries()],
    });
    for (const part of q.cols.toBuffers()) columns.push(Buffer.from(part)); // a copy: the state moves on
  }
  const header: Header = { v: 1, ...position, seq: state.seq, clients: [...state.clients], queues };
  const head = encodeValue(header);
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32BE(MAGIC, 0);
  prefix.writeUInt32BE(head.length, 4);
  const parts = [prefix, head, ...columns];
  let crc = 0;
  for (const part of parts) crc = crc32(part, crc);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc, 0);
  parts.push(tail);
  return parts;
}

/**
 * Writes a captured snapshot: scratch file, fsync, rename into `dir`, fsync of `dir`. The
 * writing is asynchronous so a large snapshot does not stall the store.
 */
export async function writeSnapshot(dir: string, scratch: string, lsn: number, parts: Buffer[]): Promise<string> {
  const name = snapshotFileName(lsn);
  const tmp = join(scratch, `${name}.${process.pid}.tmp`);
  const file = await open(tmp, 'w', 0o644);
  try {
    // writev takes at most IOV_MAX buffers at once.
    for (let i = 0; i < parts.length; i += 512) {
      const batch = parts.slice(i, i + 512);
      const { bytesWritten } = await file.writev(batch);
      const wanted = batch.reduce((n, b) => n + b.length, 0);
      if (bytesWritten !== wanted) throw new Error(`short write of a snapshot (${bytesWritten} of ${wanted} bytes)`);
    }
    await file.datasync();
  } catch (error) {
    await file.close();
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await file.close();
  const path = join(dir, name);
  renameSync(tmp, path);
  syncDir(dir);
  return path;
}

/** Reads a snapshot into a new state; CorruptDataError when it fails its checksum or does not decode. */
export function readSnapshot(
  path: string,
  ids: MessageIdCodec,
  bodyFreed: BodyFreed,
): { state: StoreState; position: LogPosition } {
  const file = readFileSync(path);
  const fail = (why: string, cause?: unknown) =>
    new CorruptDataError(`snapshot ${path} ${why}`, { file: path, start: 0, end: file.length }, { cause });
  if (file.length < 12 || file.readUInt32BE(0) !== MAGIC) throw fail('is not a snapshot');
  if (crc32(file.subarray(0, file.length - 4)) !== file.readUInt32BE(file.length - 4)) throw fail('fails its checksum');
  let header: Header;
  try {
    header = decodeValue(file.subarray(8, 8 + file.readUInt32BE(4))) as Header;
  } catch (error) {
    throw fail('has a header that does not decode', error);
  }
  const state = new StoreState(ids, bodyFreed);
  state.seq = header.seq;
  for (const client of header.clients) state.internClient(client);
  let at = 8 + file.readUInt32BE(4);
  for (const h of header.queues) {
    const q = state.makeQueue(h.p, h.q, h.meta);
    const bytes = h.n * MessageColumns.ROW_BYTES;
    const cols = MessageColumns.fromBytes(file.subarray(at, at + bytes), h.n);
    at += bytes;
    Object.assign(q.cols, cols);
    q.nextClaimNum = h.nextClaimNum;
    q.nextSubscriptionSeq = h.nextSubSeq;
    q.cursorOrder = h.cursorOrder;
    for (const [num, id, ttl, grace, updatedAt, expiresAt, orders] of h.claims) {
      q.claims.set(num, { num, id, ttl, grace, updatedAt, expiresAt, orders });
      q.claimNums.set(id, num);
      if (expiresAt < q.minClaimExpiry) q.minClaimExpiry = expiresAt;
    }
    for (const [id, seq, subscriber, ttl, createdAt, expiresAt, options, confirmed] of h.subs) {
      q.subscriptions.set(id, { id, seq, subscriber, ttl, createdAt, expiresAt, options, confirmed });
    }
    for (const [seq, order] of h.moved) {
      q.movedIn.set(seq, order);
      q.movedIdOf.set(order, seq);
    }
    for (const [order, checksum] of h.checksums) q.checksums.set(order, checksum);
  }
  if (at !== file.length - 4) throw fail('has columns that do not add up');
  return { state, position: { lsn: header.lsn, segment: header.segment, offset: header.offset } };
}
