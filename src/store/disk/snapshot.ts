import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  CorruptDataError,
  decodeValue,
  encodeValue,
  type FileIo,
  type QueueMetadata,
  syncDirWith,
} from '../../core/index.js';
import { type BodyFreed, MessageColumns, type MessageIdCodec, NO_CLAIM, StoreState } from '../state/index.js';

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
  /** Remembered idempotency keys: key, fingerprint, first seq, count, until. Absent before they were. */
  keys?: [string, string, number, number, number][];
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
export async function listSnapshots(io: FileIo, dir: string): Promise<{ lsn: number; path: string }[]> {
  return (await io.readdir(dir))
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
    // A claim lives until it expires, but once it holds no message its orders say nothing: they
    // are only ever looked up for rows the claim still holds (heldRows, an update, its release).
    // Written empty, such a claim costs a few bytes, not its orders: claims whose messages were
    // deleted piled up to 37 ms of encoding here, a stall of every write under a busy queue.
    const holding = new Set<number>();
    const held = q.cols.claim;
    for (let i = 0; i < q.cols.length; i++) if (held[i] !== NO_CLAIM) holding.add(held[i] as number);
    queues.push({
      p: q.project,
      q: q.name,
      meta: q.metadata,
      n: q.cols.length,
      nextClaimNum: q.nextClaimNum,
      nextSubSeq: q.nextSubscriptionSeq,
      cursorOrder: q.cursorOrder,
      claims: [...q.claims.values()].map((c) => [
        c.num,
        c.id,
        c.ttl,
        c.grace,
        c.updatedAt,
        c.expiresAt,
        holding.has(c.num) ? c.orders : [],
      ]),
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
      keys: [...q.remembered.entries()].map(([key, r]) => [key, r.fingerprint, r.seq, r.count, r.until]),
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
export async function writeSnapshot(
  io: FileIo,
  dir: string,
  scratch: string,
  lsn: number,
  parts: Buffer[],
): Promise<string> {
  const name = snapshotFileName(lsn);
  const tmp = join(scratch, `${name}.${process.pid}.tmp`);
  const fd = await io.open(tmp, 'w', 0o644);
  try {
    for (const part of coalesce(parts)) {
      for (let at = 0; at < part.length; ) {
        const written = await io.write(fd, part, at, part.length - at);
        if (written <= 0) throw new Error(`a write of snapshot ${tmp} wrote nothing`);
        at += written; // a short write: carry on with the rest
      }
    }
    await io.fdatasync(fd);
  } catch (error) {
    await io.close(fd).catch(() => {});
    await io.unlink(tmp).catch(() => {});
    throw error;
  }
  try {
    await io.close(fd);
    const path = join(dir, name);
    await io.rename(tmp, path);
    await syncDirWith(io, dir);
    return path;
  } catch (error) {
    await io.unlink(tmp).catch(() => {});
    throw error;
  }
}

/** Joins runs of small buffers (a queue's columns are several) so that a snapshot takes few writes. */
function coalesce(parts: Buffer[]): Buffer[] {
  const CHUNK = 1 << 20;
  const out: Buffer[] = [];
  let run: Buffer[] = [];
  let bytes = 0;
  const end = () => {
    if (run.length > 0) out.push(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run, bytes));
    run = [];
    bytes = 0;
  };
  for (const part of parts) {
    if (part.length >= CHUNK) {
      end();
      out.push(part);
      continue;
    }
    if (bytes + part.length > CHUNK) end();
    run.push(part);
    bytes += part.length;
  }
  end();
  return out;
}

/** Reads a snapshot into a new state; CorruptDataError when it fails its checksum or does not decode. */
export async function readSnapshot(
  io: FileIo,
  path: string,
  ids: MessageIdCodec,
  bodyFreed: BodyFreed,
): Promise<{ state: StoreState; position: LogPosition }> {
  const file = await io.readFile(path);
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
    for (const [key, fingerprint, seq, count, until] of h.keys ?? []) {
      q.remembered.set(key, { fingerprint, seq, count, until });
    }
  }
  if (at !== file.length - 4) throw fail('has columns that do not add up');
  return { state, position: { lsn: header.lsn, segment: header.segment, offset: header.offset } };
}
