import { closeSync, fdatasync, openSync, unlinkSync, writevSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { encodeValue } from '../src/core/index.js';

/**
 * bench:store's durable-append floor: what a durable append of a post's bytes costs in Node on
 * this machine with no store logic — the ceiling the disk store's post figures are measured
 * against. A post's bodies are MessagePack-encoded with the store's codec and framed as one
 * record of the disk store's size (a 12-byte frame with a CRC-32 of the payload, a 50-byte post
 * head, 15 bytes before each body, as record-codec.ts lays a post out); one group-commit writer
 * writes everything pending in one writev and acknowledges all of it after one fdatasync, the
 * journal's scheme with nothing else: no state, no ids, no checks, no segment rotation.
 *
 * It is not handicapped: the writer starts the next batch's write and fdatasync while up to
 * `maxSyncs` earlier ones still run (the journal allows 2), and it appends to one file as the
 * journal appends to its segment (no preallocation, which the store does not do either).
 */
export class AppendFloor {
  private readonly fd: number;
  private size = 0;
  private pending: Buffer[] = [];
  private waiting: (() => void)[] = [];
  private scheduled = false;
  private syncing = 0;

  constructor(
    private readonly path: string,
    private readonly maxSyncs = 2,
  ) {
    this.fd = openSync(path, 'wx+', 0o644);
  }

  /** Encodes and frames the bodies as one record; resolves once it is durable. */
  append(bodies: unknown[]): Promise<void> {
    const encoded = bodies.map((b) => encodeValue(b));
    let size = HEAD_BYTES;
    for (const e of encoded) size += PER_MESSAGE_BYTES + e.length;
    const record = Buffer.allocUnsafe(size);
    record.fill(0, 12, HEAD_BYTES);
    let at = HEAD_BYTES;
    for (const e of encoded) {
      record.fill(0, at, at + PER_MESSAGE_BYTES);
      at += PER_MESSAGE_BYTES;
      at += e.copy(record, at);
    }
    record.writeUInt32BE(0x50485231, 0);
    record.writeUInt32BE(size - 12, 4);
    record.writeUInt32BE(crc32(record.subarray(12)), 8);
    this.pending.push(record);
    const durable = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return durable;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.syncing >= this.maxSyncs) return;
    const buffers = this.pending;
    const acks = this.waiting;
    this.pending = [];
    this.waiting = [];
    // writev takes at most IOV_MAX (1024) buffers at once; the page cache takes whole writes here.
    for (let k = 0; k < buffers.length; k += 1024) {
      const part = buffers.slice(k, k + 1024);
      const length = part.reduce((n, b) => n + b.length, 0);
      const written = writevSync(this.fd, part, this.size);
      if (written !== length) throw new Error(`a short write (${written} of ${length} bytes)`);
      this.size += written;
    }
    this.syncing++;
    fdatasync(this.fd, (error) => {
      this.syncing--;
      if (error) throw error;
      for (const ack of acks) ack();
      this.flush();
    });
  }

  async close(): Promise<void> {
    while (this.syncing > 0 || this.pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    closeSync(this.fd);
    unlinkSync(this.path);
  }
}

/** A post record's frame (12), type and lsn (9), project, queue, client, time, seq and count (~41). */
const HEAD_BYTES = 62;
/** ttl, delay, length, checksum length (11) and the body's CRC-32 (4) before each body. */
const PER_MESSAGE_BYTES = 15;
