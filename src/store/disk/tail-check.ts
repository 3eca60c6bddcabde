import type { MessageIdCodec, MessagesDelete, StoreState } from '../state/index.js';
import type { LogPosition } from './snapshot.js';
import type { TailView } from './tail-index.js';

/** A segment the log now ends short of what the tail index says was durable. */
export interface TailLoss {
  segment: number;
  /** Where the log now ends in it (0: the file is missing). */
  end: number;
  /** How far it was durable. */
  durable: number;
  missing: boolean;
  /** Acknowledged messages whose post was cut and that are not in the store. */
  lostMessageIds: string[];
  /** Acknowledged deletes and pops that were cut while their message is still in the store. */
  lostDeleteIds: string[];
  /** Those deletes again, to be logged anew. */
  deletes: MessagesDelete[];
}

/**
 * Compares the replayed log with the tail index. `sizeOf` answers where a segment's log now
 * ends (undefined: the file is missing). A segment that ends short of its greatest durable
 * length lost acknowledged records — damage, not a torn write (a torn record was never noted);
 * the posts and deletes noted past the end are what it lost. Records under the snapshot the
 * state came from are not lost whatever became of their segment.
 */
export function findTailLosses(
  view: TailView,
  from: LogPosition,
  sizeOf: (segment: number) => number | undefined,
  state: StoreState,
  ids: MessageIdCodec,
): TailLoss[] {
  const losses: TailLoss[] = [];
  for (const [no, known] of [...view.segments].sort((a, b) => a[0] - b[0])) {
    if (no < from.segment) continue;
    const size = sizeOf(no);
    const floor = no === from.segment ? from.offset : 0;
    const end = Math.max(size ?? 0, floor);
    if (known.length <= end) continue;
    const loss: TailLoss = {
      segment: no,
      end: size ?? 0,
      durable: known.length,
      missing: size === undefined,
      lostMessageIds: [],
      lostDeleteIds: [],
      deletes: [],
    };
    const cut = known.records.filter((r) => r.end > end);
    // Deleted again in the same cut: the client was told it is gone, and it is — not lost.
    const deletedToo = new Set<string>();
    for (const r of cut) {
      if (r.kind === 'delete') for (const o of r.orders) deletedToo.add(`${r.project}/${r.queue}/${o}`);
    }
    for (const r of cut) {
      const queue = state.find(r.project, r.queue);
      if (r.kind === 'post') {
        for (let seq = r.seq; seq < r.seq + r.count; seq++) {
          if (queue && queue.rowOfId(seq) >= 0) continue; // it is there after all
          if (deletedToo.has(`${r.project}/${r.queue}/${seq}`)) continue;
          loss.lostMessageIds.push(ids.format(seq));
        }
        continue;
      }
      if (!queue) continue;
      const orders: number[] = [];
      for (const order of r.orders) {
        const i = queue.cols.find(order);
        if (i < 0 || queue.cols.isRemoved(i)) continue;
        orders.push(order);
        loss.lostDeleteIds.push(ids.format(queue.idSeqOf(i)));
      }
      if (orders.length > 0) loss.deletes.push({ type: 'messagesDelete', project: r.project, queue: r.queue, orders });
    }
    losses.push(loss);
  }
  return losses;
}
