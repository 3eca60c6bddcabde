import { join } from 'node:path';
import type { Logger } from '../../core/index.js';
import type { MessageIdCodec, MessagesDelete, Row } from '../state/index.js';
import { refOf } from './body-reader.js';
import type { DamageLedger, DamageReport } from './damage-ledger.js';
import { type Journal, segmentFileName } from './journal.js';
import { refOffset, refSegment } from './record-codec.js';

/** What setting messages aside works with; the journal and ids are read anew (a reload replaces them). */
export interface SetAsideHost {
  readonly dir: string;
  readonly logDir: string;
  readonly logger: Logger;
  readonly damage: DamageLedger;
  readonly journal: Journal;
  readonly ids: MessageIdCodec;
  /** Logs and applies a delete (it throws when the store cannot write now). */
  commit(effect: MessagesDelete): Promise<void>;
}

/**
 * Messages whose bodies cannot be read intact are reported and set aside: taken out of their
 * queues by a logged delete, so the next open agrees, and kept in the ledger's set-aside list —
 * never served as data, never listed or claimed again, and their neighbours unaffected.
 */
export class SetAside {
  constructor(private readonly host: SetAsideHost) {}

  /**
   * Every live body must lie inside a segment that is there and long enough: a segment deleted or
   * cut short is found at open, not by the first read. `lost` holds the rows of each segment
   * found missing or short; the loss is reported with their ids.
   */
  missingBodies(lost: Map<number, Row[]>): void {
    const { journal, ids } = this.host;
    for (const [no, rows] of lost) {
      const present = journal.segments.has(no);
      const damage: DamageReport = {
        file: join(this.host.logDir, segmentFileName(no)),
        start: 0,
        end: present ? (journal.segments.get(no)?.size ?? 0) : 0,
        lostMessageIds: rows.map((r) => ids.format(r.queue.idSeqOf(r.i))),
        note: present
          ? 'a log segment is shorter than the bodies it holds; those messages are set aside'
          : 'a log segment the store refers to is missing; the messages whose bodies were in it are set aside',
      };
      this.host.damage.add(damage);
    }
    // Once, after every report: a delete may compact the columns and move the rows found above.
    this.setAsideRows([...lost.values()].flat(), 'its log segment is missing or shorter than the bodies it holds');
  }

  /** Reports bodies found damaged when read, and sets their messages aside. */
  damagedOnRead(rows: Row[]): void {
    const fresh = rows.filter((r) => !this.host.damage.setAside.has(this.keyOf(r)));
    for (const row of fresh) {
      const ref = refOf(row);
      const damage: DamageReport = {
        file: join(this.host.logDir, segmentFileName(refSegment(ref))),
        start: refOffset(ref),
        end: refOffset(ref) + (row.queue.cols.bodyLen[row.i] as number),
        lostMessageIds: [this.host.ids.format(row.queue.idSeqOf(row.i))],
        note: `the body of a message in queue ${row.queue.name} (project ${row.queue.project || '(none)'}) failed its checksum when read; the message is set aside`,
      };
      this.host.damage.add(damage);
    }
    this.setAsideRows(fresh, 'its body failed its checksum when read');
  }

  private setAsideRows(rows: Row[], reason: string): void {
    const setAside = this.host.damage.setAside;
    const byQueue = new Map<string, MessagesDelete>();
    for (const row of rows) {
      const q = row.queue;
      const id = this.host.ids.format(q.idSeqOf(row.i));
      const key = `${q.project}/${q.name}/${id}`;
      if (setAside.has(key)) continue;
      setAside.set(key, { project: q.project, queue: q.name, id, reason });
      const entry = byQueue.get(`${q.project}/${q.name}`) ?? {
        type: 'messagesDelete',
        project: q.project,
        queue: q.name,
        orders: [],
      };
      entry.orders.push(q.cols.order[row.i] as number);
      byQueue.set(`${q.project}/${q.name}`, entry);
    }
    for (const effect of byQueue.values()) {
      try {
        this.host.commit(effect).catch(() => {});
      } catch (error) {
        // The store cannot write now: the rows stay, and are found damaged (and reported) again.
        this.host.logger.warn(
          { dir: this.host.dir, err: (error as Error).message },
          'cannot set damaged messages aside',
        );
      }
    }
  }

  private keyOf(row: Row): string {
    return `${row.queue.project}/${row.queue.name}/${this.host.ids.format(row.queue.idSeqOf(row.i))}`;
  }
}
