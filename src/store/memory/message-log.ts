/**
 * A queue's messages in FIFO order: an array sorted by a per-queue sequence number, with an
 * index by id. Deletion marks a record and drops it from the index; the array is compacted when
 * more than half of it is dead, so deletes stay O(1) amortized and markers (sequence numbers)
 * are found by binary search.
 */

export interface LogRecord {
  readonly id: string;
  readonly seq: number;
  deleted: boolean;
}

const COMPACT_MIN = 1024;

export class MessageLog<R extends LogRecord> {
  private records: R[] = [];
  private readonly byId = new Map<string, R>();
  /** Index of the first record that may still be live. */
  private head = 0;
  private dead = 0;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): R | undefined {
    return this.byId.get(id);
  }

  /** Appends a record; its seq must be greater than every seq in the log. */
  append(record: R): void {
    const last = this.records[this.records.length - 1];
    if (last !== undefined && last.seq >= record.seq) {
      throw new RangeError(`sequence ${record.seq} is not after ${last.seq}`);
    }
    this.records.push(record);
    this.byId.set(record.id, record);
  }

  remove(record: R): void {
    if (record.deleted) return;
    record.deleted = true;
    this.byId.delete(record.id);
    this.dead++;
    while (this.head < this.records.length && this.records[this.head]?.deleted) this.head++;
    if (this.dead >= COMPACT_MIN && this.dead * 2 > this.records.length) this.compact();
  }

  /** Live records from the oldest on, or from the first with seq > `afterSeq`. */
  *from(afterSeq: number | null = null): IterableIterator<R> {
    let i = afterSeq === null ? this.head : Math.max(this.head, this.indexAfter(afterSeq));
    // A compaction during iteration would move indices; iterate by seq to stay correct.
    while (i < this.records.length) {
      const record = this.records[i] as R;
      if (!record.deleted) {
        yield record;
        if (this.records[i] !== record) {
          i = this.indexAfter(record.seq);
          continue;
        }
      }
      i++;
    }
  }

  /** Live records from the newest back. */
  *backwards(): IterableIterator<R> {
    for (let i = this.records.length - 1; i >= this.head; i--) {
      const record = this.records[i] as R;
      if (!record.deleted) yield record;
    }
  }

  private indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.records[mid] as R).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private compact(): void {
    this.records = this.records.filter((r) => !r.deleted);
    this.head = 0;
    this.dead = 0;
  }
}
