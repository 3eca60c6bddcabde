/**
 * A queue's messages as columns of typed arrays, in FIFO order (ascending order key). About 60
 * bytes a message, so a million queued messages fit in tens of megabytes; a JS object per
 * message would take ten times that. Rows are appended in order-key order and removed by a flag;
 * compact() drops removed rows when they are more than half.
 */

export const FLAG_DELETED = 1;
export const FLAG_CHECKSUM = 2;
export const FLAG_MOVED = 4;
/** The body on disk is preceded by its own CRC-32 (the disk store checks it at every read). */
export const FLAG_BODY_CRC = 8;

/** Sentinel of the claim column: not claimed. */
export const NO_CLAIM = -1;

const MIN_CAPACITY = 16;

export class MessageColumns {
  /** Position in the queue; also the id's sequence number unless the message was moved here. */
  order = new Float64Array(MIN_CAPACITY);
  /** Where the body is: the engine's own reference (a memory slot, a file offset). */
  bodyRef = new Float64Array(MIN_CAPACITY);
  bodyLen = new Uint32Array(MIN_CAPACITY);
  created = new Float64Array(MIN_CAPACITY);
  expires = new Float64Array(MIN_CAPACITY);
  /** Delay in seconds: visible at created + delay. */
  delay = new Uint16Array(MIN_CAPACITY);
  ttl = new Uint32Array(MIN_CAPACITY);
  /** The queue's number for the claim holding the row, or NO_CLAIM. */
  claim = new Int32Array(MIN_CAPACITY);
  claimCount = new Uint16Array(MIN_CAPACITY);
  /** Interned client id. */
  client = new Uint32Array(MIN_CAPACITY);
  flags = new Uint8Array(MIN_CAPACITY);

  /** Rows in use, removed ones included. */
  length = 0;
  /** Rows removed but not yet compacted away. */
  removed = 0;

  get capacity(): number {
    return this.order.length;
  }

  get live(): number {
    return this.length - this.removed;
  }

  /** Makes room for `extra` more rows, growing by half so growth costs stay amortized. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.capacity) return;
    this.resize(Math.max(needed, Math.ceil(this.capacity * 1.5), MIN_CAPACITY));
  }

  /** Appends a row; its order must be above every order in the columns. Returns the row index. */
  append(
    order: number,
    bodyRef: number,
    bodyLen: number,
    created: number,
    expires: number,
    delay: number,
    ttl: number,
    client: number,
    flags: number,
  ): number {
    if (this.length > 0 && (this.order[this.length - 1] as number) >= order) {
      throw new RangeError(`order ${order} is not after ${this.order[this.length - 1]}`);
    }
    this.reserve(1);
    const i = this.length++;
    this.order[i] = order;
    this.bodyRef[i] = bodyRef;
    this.bodyLen[i] = bodyLen;
    this.created[i] = created;
    this.expires[i] = expires;
    this.delay[i] = delay;
    this.ttl[i] = ttl;
    this.claim[i] = NO_CLAIM;
    this.claimCount[i] = 0;
    this.client[i] = client;
    this.flags[i] = flags;
    return i;
  }

  /** Index of the first row whose order is greater than `order` (rows removed or not). */
  indexAfter(order: number): number {
    let lo = 0;
    let hi = this.length;
    const keys = this.order;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as number) <= order) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the live row with this order, or -1. */
  find(order: number): number {
    const i = this.indexAfter(order) - 1;
    if (i < 0 || this.order[i] !== order || ((this.flags[i] as number) & FLAG_DELETED) !== 0) return -1;
    return i;
  }

  isRemoved(i: number): boolean {
    return ((this.flags[i] as number) & FLAG_DELETED) !== 0;
  }

  remove(i: number): void {
    if (this.isRemoved(i)) return;
    this.flags[i] = (this.flags[i] as number) | FLAG_DELETED;
    this.removed++;
  }

  /**
   * Drops removed rows. Row indexes change; callers keep order keys, never indexes, across
   * calls. Returns whether anything moved.
   */
  compact(): boolean {
    if (this.removed === 0) return false;
    let w = 0;
    for (let r = 0; r < this.length; r++) {
      if (this.isRemoved(r)) continue;
      if (w !== r) {
        this.order[w] = this.order[r] as number;
        this.bodyRef[w] = this.bodyRef[r] as number;
        this.bodyLen[w] = this.bodyLen[r] as number;
        this.created[w] = this.created[r] as number;
        this.expires[w] = this.expires[r] as number;
        this.delay[w] = this.delay[r] as number;
        this.ttl[w] = this.ttl[r] as number;
        this.claim[w] = this.claim[r] as number;
        this.claimCount[w] = this.claimCount[r] as number;
        this.client[w] = this.client[r] as number;
        this.flags[w] = this.flags[r] as number;
      }
      w++;
    }
    this.length = w;
    this.removed = 0;
    // Give memory back when the queue has shrunk a lot.
    if (this.capacity > MIN_CAPACITY && w * 4 < this.capacity) this.resize(Math.max(MIN_CAPACITY, w * 2));
    return true;
  }

  /** The columns' bytes, packed (for snapshots). */
  toBuffers(): Uint8Array[] {
    const n = this.length;
    return [
      this.order.subarray(0, n),
      this.bodyRef.subarray(0, n),
      this.created.subarray(0, n),
      this.expires.subarray(0, n),
      this.bodyLen.subarray(0, n),
      this.ttl.subarray(0, n),
      this.claim.subarray(0, n),
      this.client.subarray(0, n),
      this.delay.subarray(0, n),
      this.claimCount.subarray(0, n),
      this.flags.subarray(0, n),
    ].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  /** Bytes per row in toBuffers(). */
  static readonly ROW_BYTES = 8 * 4 + 4 * 4 + 2 * 2 + 1;

  /** Rebuilds columns of `n` rows from bytes laid out as toBuffers() writes them. */
  static fromBytes(bytes: Uint8Array, n: number): MessageColumns {
    const c = new MessageColumns();
    c.resize(Math.max(MIN_CAPACITY, n));
    let at = 0;
    const take = <T extends Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array>(
      target: T,
      size: number,
    ) => {
      const byteLength = n * size;
      // Copy through a byte view: the source offset may not be aligned for the element type.
      new Uint8Array(target.buffer, 0, byteLength).set(bytes.subarray(at, at + byteLength));
      at += byteLength;
    };
    take(c.order, 8);
    take(c.bodyRef, 8);
    take(c.created, 8);
    take(c.expires, 8);
    take(c.bodyLen, 4);
    take(c.ttl, 4);
    take(c.claim, 4);
    take(c.client, 4);
    take(c.delay, 2);
    take(c.claimCount, 2);
    take(c.flags, 1);
    c.length = n;
    for (let i = 0; i < n; i++) if (c.isRemoved(i)) c.removed++;
    return c;
  }

  private resize(capacity: number): void {
    const grow = <T extends Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old.subarray(0, Math.min(this.length, capacity)));
      return next;
    };
    this.order = grow(this.order, (n) => new Float64Array(n));
    this.bodyRef = grow(this.bodyRef, (n) => new Float64Array(n));
    this.bodyLen = grow(this.bodyLen, (n) => new Uint32Array(n));
    this.created = grow(this.created, (n) => new Float64Array(n));
    this.expires = grow(this.expires, (n) => new Float64Array(n));
    this.delay = grow(this.delay, (n) => new Uint16Array(n));
    this.ttl = grow(this.ttl, (n) => new Uint32Array(n));
    this.claim = grow(this.claim, (n) => new Int32Array(n));
    this.claimCount = grow(this.claimCount, (n) => new Uint16Array(n));
    this.client = grow(this.client, (n) => new Uint32Array(n));
    this.flags = grow(this.flags, (n) => new Uint8Array(n));
  }
}
