import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, isPlainObject, type Logger, type Timer } from '../../core/index.js';
import type { ResourceKind } from '../namespaces.js';

/** Per subscription: how many notifications reached it, and how many never will. */
export interface LedgerEntry {
  kind: ResourceKind;
  project: string;
  source: string;
  subscriber: string;
  expiresAt: number;
  delivered: number;
  failed: number;
}

export const LEDGER_FILE = 'delivery-status.json';

/** How long after its expiry a subscription's counts are kept, for an operator to look at. */
const KEEP_AFTER_EXPIRY_MS = 86_400_000;
const FLUSH_DELAY_MS = 1000;

/**
 * The delivered and failed counts of every subscription, kept in memory and written to a small
 * file (scratch, fsync, rename) at most once a second and at close. Pending notifications are
 * not counted here: they are in the spool, which is their record. A process killed between two
 * writes loses the counting of the last second's deliveries — the deliveries themselves are safe
 * in the spool — so the counts are a report, not a ledger of record.
 */
export class DeliveryLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private timer: Timer | null = null;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  static open(dir: string, clock: Clock, log: Logger): DeliveryLedger {
    const ledger = new DeliveryLedger(dir, clock, log);
    for (const [id, entry] of readLedgerFile(dir, log)) ledger.entries.set(id, entry);
    return ledger;
  }

  get(id: string): LedgerEntry | undefined {
    return this.entries.get(id);
  }

  /** Counts deliveries and failures for a subscription (made known with its description). */
  count(id: string, about: Omit<LedgerEntry, 'delivered' | 'failed'>, delivered: number, failed: number): void {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { ...about, delivered: 0, failed: 0 };
      this.entries.set(id, entry);
    } else {
      entry.subscriber = about.subscriber;
      entry.expiresAt = about.expiresAt;
    }
    entry.delivered += delivered;
    entry.failed += failed;
    this.flushSoon();
  }

  forget(id: string): void {
    if (this.entries.delete(id)) this.flushSoon();
  }

  /** Drops the counts of subscriptions long expired. */
  prune(): void {
    const now = this.clock.now();
    let changed = false;
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt + KEEP_AFTER_EXPIRY_MS < now) {
        this.entries.delete(id);
        changed = true;
      }
    }
    if (changed) this.flushSoon();
  }

  private flushSoon(): void {
    if (this.timer || this.closed) return;
    this.timer = this.clock.setTimer(FLUSH_DELAY_MS, () => {
      this.timer = null;
      this.flush();
    });
  }

  /** Writes the counts now. */
  flush(): void {
    const scratch = join(this.dir, `${LEDGER_FILE}.tmp`);
    try {
      const doc = { v: 1, subscriptions: Object.fromEntries(this.entries) };
      const fd = openSync(scratch, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(doc));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(scratch, join(this.dir, LEDGER_FILE));
    } catch (error) {
      this.log.warn({ dir: this.dir, err: (error as Error).message }, 'delivery counts could not be written');
    }
  }

  close(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = null;
    this.flush();
    this.closed = true;
  }
}

/** Reads the counts a notifier left in `dir` (also used by `posthorn notify status`, without a notifier). */
export function readLedgerFile(dir: string, log?: Logger): Map<string, LedgerEntry> {
  const out = new Map<string, LedgerEntry>();
  const path = join(dir, LEDGER_FILE);
  if (!existsSync(path)) return out;
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!isPlainObject(doc) || doc.v !== 1 || !isPlainObject(doc.subscriptions)) throw new TypeError('unknown shape');
    for (const [id, raw] of Object.entries(doc.subscriptions)) {
      if (!isPlainObject(raw)) continue;
      const { kind, project, source, subscriber, expiresAt, delivered, failed } = raw;
      if (
        (kind !== 'queue' && kind !== 'topic') ||
        typeof project !== 'string' ||
        typeof source !== 'string' ||
        typeof subscriber !== 'string' ||
        typeof expiresAt !== 'number' ||
        typeof delivered !== 'number' ||
        typeof failed !== 'number'
      ) {
        continue;
      }
      out.set(id, { kind, project, source, subscriber, expiresAt, delivered, failed });
    }
  } catch (error) {
    log?.warn({ path, err: (error as Error).message }, 'delivery counts unreadable; counting from zero');
  }
  return out;
}
