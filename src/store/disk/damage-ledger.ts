import { join } from 'node:path';
import type { FileIo, Logger } from '../../core/index.js';

/** A damaged stretch of a file found at open: what was lost and where. */
export interface DamageReport {
  file: string;
  start: number;
  end: number;
  /** Ids of messages whose posts were in the damaged bytes, as far as they can be told. */
  lostMessageIds: string[];
  /** Ids of messages whose acknowledged delete (or pop) was lost with the damage and was done again. */
  reappliedDeleteIds?: string[];
  note: string;
}

/** A message whose body could not be read intact: no longer served, listed or claimed. */
export interface SetAsideMessage {
  project: string;
  queue: string;
  id: string;
  /** Why: the body failed its checksum, its segment is missing, or it lies past the segment's end. */
  reason: string;
}

/**
 * What the store found damaged, kept for its owner (damageReports, setAside) and told to the
 * operator: every report goes to the log lines and, as a JSON line, to `<dir>/damage.log`.
 */
export class DamageLedger {
  readonly reports: DamageReport[] = [];
  /** Messages set aside because their bodies are damaged, keyed project/queue/id. */
  readonly setAside = new Map<string, SetAsideMessage>();
  /** The appends to damage.log, in order. */
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly io: FileIo,
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Copies of the reports, for callers that may change them. */
  copies(): DamageReport[] {
    return this.reports.map((d) => ({
      ...d,
      lostMessageIds: [...d.lostMessageIds],
      ...(d.reappliedDeleteIds ? { reappliedDeleteIds: [...d.reappliedDeleteIds] } : {}),
    }));
  }

  /** Keeps a report and tells it at once. */
  add(damage: DamageReport): void {
    this.reports.push(damage);
    this.persist(damage);
  }

  persist(damage: DamageReport): void {
    this.logger.error(
      { file: damage.file, start: damage.start, end: damage.end, lostMessageIds: damage.lostMessageIds },
      `damaged data in the disk store: ${damage.note}`,
    );
    const line = Buffer.from(`${JSON.stringify({ at: new Date().toISOString(), ...damage })}\n`);
    const io = this.io;
    // One append after the other, off the read that found the damage (reads are synchronous).
    this.written = this.written.then(async () => {
      try {
        const fd = await io.open(join(this.dir, 'damage.log'), 'a', 0o644);
        try {
          for (let at = 0; at < line.length; ) at += Math.max(1, await io.write(fd, line, at, line.length - at));
        } finally {
          await io.close(fd);
        }
      } catch {
        // The report is in memory and in the log line; a full disk must not stop the open.
      }
    });
  }

  /** Resolves once every report so far is in damage.log (or could not be). */
  settled(): Promise<void> {
    return this.written;
  }
}
