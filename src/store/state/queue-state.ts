import type { QueueMetadata } from '../../core/index.js';
import { FLAG_CHECKSUM, FLAG_MOVED, MessageColumns, NO_CLAIM } from './message-columns.js';

export interface ClaimRecord {
  /** The queue's number for it, as kept in the claim column. */
  num: number;
  id: string;
  ttl: number;
  grace: number;
  updatedAt: number;
  expiresAt: number;
  /** Order keys of the messages it took, ascending. */
  orders: number[];
}

export interface SubscriptionRecord {
  id: string;
  /** Creation number within the queue, for markers. */
  seq: number;
  subscriber: string;
  ttl: number;
  createdAt: number;
  expiresAt: number;
  options: Record<string, unknown>;
  confirmed: boolean;
}

/** A post remembered by its idempotency key: its ids are ids.format(seq .. seq + count - 1). */
export interface RememberedPost {
  fingerprint: string;
  seq: number;
  count: number;
  until: number;
}

/** Rows before a claim is made never need a look again until some claim lets go. */
const REMOVED_BEFORE_COMPACT = 1024;

/** One queue of a columnar store: its messages, claims and subscriptions. */
export class QueueState {
  readonly cols = new MessageColumns();
  readonly claims = new Map<number, ClaimRecord>();
  readonly claimNums = new Map<string, number>();
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  /** Id sequence → order key, for messages moved here from another queue (dead letters). */
  readonly movedIn = new Map<number, number>();
  /** Order key → id sequence of the same messages. */
  readonly movedIdOf = new Map<number, number>();
  readonly checksums = new Map<number, string>();
  /** Idempotency key → the post it made; dropped by gc once `until` has passed. */
  readonly remembered = new Map<string, RememberedPost>();
  nextClaimNum = 0;
  nextSubscriptionSeq = 1;
  /** Every message with a smaller order key is removed, expired, or held by a live claim. */
  cursorOrder = 0;
  /** No claim expires before this instant. */
  minClaimExpiry = Number.POSITIVE_INFINITY;

  constructor(
    readonly project: string,
    readonly name: string,
    public metadata: QueueMetadata,
  ) {}

  /** The row of the message whose id carries `seq`, or -1. */
  rowOfId(seq: number): number {
    const order = this.movedIn.get(seq) ?? seq;
    const i = this.cols.find(order);
    if (i < 0) return -1;
    const moved = ((this.cols.flags[i] as number) & FLAG_MOVED) !== 0;
    if (moved ? this.movedIdOf.get(order) !== seq : order !== seq) return -1;
    return i;
  }

  /** The sequence number in the id of the message at row i. */
  idSeqOf(i: number): number {
    const order = this.cols.order[i] as number;
    return ((this.cols.flags[i] as number) & FLAG_MOVED) !== 0 ? (this.movedIdOf.get(order) as number) : order;
  }

  visibleAt(i: number): number {
    return (this.cols.created[i] as number) + (this.cols.delay[i] as number) * 1000;
  }

  /** The live claim holding row i, if any. */
  claimOf(i: number, now: number): ClaimRecord | undefined {
    const num = this.cols.claim[i] as number;
    if (num === NO_CLAIM) return undefined;
    const claim = this.claims.get(num);
    return claim && claim.expiresAt > now ? claim : undefined;
  }

  isClaimed(i: number, now: number): boolean {
    return this.claimOf(i, now) !== undefined;
  }

  liveClaim(id: string, now: number): ClaimRecord | undefined {
    const num = this.claimNums.get(id);
    const claim = num === undefined ? undefined : this.claims.get(num);
    return claim && claim.expiresAt > now ? claim : undefined;
  }

  /** Rows the claim still holds: live, unexpired, and not taken by another claim since. */
  heldRows(claim: ClaimRecord, now: number): number[] {
    const rows: number[] = [];
    for (const order of claim.orders) {
      const i = this.cols.find(order);
      if (i >= 0 && this.cols.claim[i] === claim.num && (this.cols.expires[i] as number) > now) rows.push(i);
    }
    return rows;
  }

  /**
   * Puts row i under the claim and lengthens its life when it would end before the claim does
   * (Zaqar's rule: it then lives until the claim's end plus grace, with ttl = claim ttl + grace).
   */
  hold(i: number, claim: ClaimRecord): void {
    const c = this.cols;
    c.claim[i] = claim.num;
    if ((c.expires[i] as number) < claim.expiresAt) {
      c.expires[i] = claim.expiresAt + claim.grace * 1000;
      c.ttl[i] = claim.ttl + claim.grace;
    }
  }

  /** Lets the claim's messages go and forgets it. */
  release(claim: ClaimRecord): void {
    for (const order of claim.orders) {
      const i = this.cols.find(order);
      if (i >= 0 && this.cols.claim[i] === claim.num) this.cols.claim[i] = NO_CLAIM;
    }
    this.claims.delete(claim.num);
    this.claimNums.delete(claim.id);
    const first = claim.orders[0];
    if (first !== undefined && first < this.cursorOrder) this.cursorOrder = first;
  }

  /** Forgets claims that have expired; returns how many. Invisible: an expired claim holds nothing. */
  dropExpiredClaims(now: number): number {
    if (now < this.minClaimExpiry) return 0;
    let dropped = 0;
    let min = Number.POSITIVE_INFINITY;
    for (const claim of [...this.claims.values()]) {
      if (claim.expiresAt <= now) {
        this.release(claim);
        dropped++;
      } else if (claim.expiresAt < min) {
        min = claim.expiresAt;
      }
    }
    this.minClaimExpiry = min;
    return dropped;
  }

  /** Removes row i; returns its body's [ref, len] so the owner can free it. */
  removeRow(i: number): void {
    const c = this.cols;
    const order = c.order[i] as number;
    const flags = c.flags[i] as number;
    if (flags & FLAG_MOVED) {
      const seq = this.movedIdOf.get(order);
      this.movedIdOf.delete(order);
      if (seq !== undefined) this.movedIn.delete(seq);
    }
    if (flags & FLAG_CHECKSUM) this.checksums.delete(order);
    c.remove(i);
  }

  /** Compacts the columns when removed rows are many; row indexes change. */
  maybeCompact(): void {
    const c = this.cols;
    if (c.removed >= REMOVED_BEFORE_COMPACT && c.removed * 2 > c.length) c.compact();
  }

  liveSubscriber(subscriber: string, now: number): SubscriptionRecord | undefined {
    for (const s of this.subscriptions.values()) {
      if (s.subscriber === subscriber && s.expiresAt > now) return s;
    }
    return undefined;
  }
}
