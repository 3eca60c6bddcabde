import { join } from 'node:path';
import type { FileIo, Logger } from '../../core/index.js';
import { type MessageIdCodec, type MessagesDelete, type StoreState, seqRange } from '../state/index.js';
import { markBodyCrc } from './body-reader.js';
import type { DamageLedger, DamageReport } from './damage-ledger.js';
import { type Journal, segmentFileName, truncateFile } from './journal.js';
import { firstRecordIntact, type LogDamage, LogReader } from './log-reader.js';
import type { LogPosition } from './snapshot.js';
import { findTailLosses } from './tail-check.js';
import type { TailIndex, TailView } from './tail-index.js';

/** What replaying the log needs: the state to apply it to and the journal that adopts its segments. */
export interface ReplayContext {
  io: FileIo;
  logDir: string;
  logger: Logger;
  journal: Journal;
  state: StoreState;
  ids: MessageIdCodec;
  tailView: TailView;
  tail: TailIndex;
  damage: DamageLedger;
}

/** What a replay did. */
export interface Replayed {
  /** The last log sequence number applied (or the snapshot's). */
  lsn: number;
  records: number;
  bytes: number;
  /** Acknowledged deletes the log lost, to be done again once it can be written. */
  lostDeletes: MessagesDelete[];
}

/**
 * Applies the log after `from` to the state and has the journal adopt every segment. Damage that
 * runs to the end of the log is a write the crash cut short — never acknowledged, since the
 * journal fsyncs a segment before writing the next — and is cut off; damage anywhere before it is
 * real, reported and skipped, with the ids of the posts it held as far as the gap in sequence
 * numbers tells them.
 */
export async function replayLog(ctx: ReplayContext, from: LogPosition): Promise<Replayed> {
  const { io, logDir, journal, state, ids } = ctx;
  const damage = ctx.damage.reports;
  const numbers = (await io.readdir(logDir))
    .filter((f) => /^\d{10}\.seg$/.test(f))
    .map((f) => Number(f.slice(0, 10)))
    .sort((a, b) => a - b);
  // The last segment holding an intact record: damage past it runs to the end of the log.
  let lastIntact = -1;
  for (const no of numbers) {
    const offset = no === from.segment ? from.offset : 0;
    if (no >= from.segment && (await firstRecordIntact(io, join(logDir, segmentFileName(no)), offset))) {
      lastIntact = no;
    }
  }
  const replayed: Replayed = { lsn: from.lsn, records: 0, bytes: 0, lostDeletes: [] };
  let expectedSeq = state.seq + 1;
  let unattributed: DamageReport | null = null;
  for (const no of numbers) {
    const path = join(logDir, segmentFileName(no));
    if (no < from.segment) {
      // Wholly before the snapshot: kept for the bodies in it.
      await journal.adopt(no, (await io.stat(path)).size, from.lsn);
      continue;
    }
    const buf = await io.readFile(path);
    const start = no === from.segment ? Math.min(from.offset, buf.length) : 0;
    replayed.bytes += buf.length - start;
    const reader = new LogReader(buf, no, start, {
      corruption(found: LogDamage) {
        if (found.atEnd && no >= lastIntact) {
          // Unless the tail index saw the log durable past here: then it is a cut (checkTail).
          if ((ctx.tailView.segments.get(no)?.length ?? 0) <= found.offset)
            ctx.logger.warn(
              { file: path, offset: found.offset, bytes: found.bytes },
              'cut off a torn record at the end of the log (a write the crash interrupted, never acknowledged)',
            );
          return 'truncate';
        }
        unattributed = {
          file: path,
          start: found.offset,
          end: found.offset + found.bytes,
          lostMessageIds: [],
          note: 'damaged log records were skipped; the changes they held (posts, deletes, claims) are lost',
        };
        damage.push(unattributed);
        return 'skip';
      },
    });
    let maxLsn = 0;
    for (const record of reader.records()) {
      if (record.kind === 'seal') {
        const sealed = journal.segments.get(record.segment);
        const sealedPath = join(logDir, segmentFileName(record.segment));
        const already = damage.some((d) => d.file === sealedPath);
        // A missing sealed segment after the snapshot's own was deleted (compaction only drops
        // segments wholly before the snapshot).
        const gone = !sealed && record.segment > from.segment;
        if (((sealed && sealed.size < record.size) || gone) && !already) {
          // Cut below what was durable: the posts it held are named by the gap in ids below.
          unattributed = {
            file: sealedPath,
            start: sealed?.size ?? 0,
            end: record.size,
            lostMessageIds: [],
            note: 'a log segment is shorter than it was when sealed: acknowledged changes (posts, deletes, claims) were cut off',
          };
          damage.push(unattributed);
        }
        continue;
      }
      const { lsn, effect } = record;
      if (lsn <= replayed.lsn) continue; // already in the snapshot
      // An effect this version does not know (null) is passed over, its lsn still counted.
      if (effect) {
        const range = seqRange(effect);
        if (range) {
          if (range[0] > expectedSeq && unattributed) {
            for (let s = expectedSeq; s < range[0]; s++) unattributed.lostMessageIds.push(ids.format(s));
          }
          expectedSeq = Math.max(expectedSeq, range[0] + range[1]);
        }
        state.apply(effect);
        if (record.bodyCrc) markBodyCrc(state, effect);
      }
      replayed.records++;
      replayed.lsn = lsn;
      maxLsn = lsn;
    }
    if (reader.truncated) await truncateFile(io, path, reader.end);
    await journal.adopt(no, reader.end, maxLsn);
  }
  replayed.lostDeletes = checkTail(ctx, from);
  return replayed;
}

/**
 * A log that ends short of what the tail index saw durable lost acknowledged records: reported
 * with the ids of the posts cut (merged into a seal's report of the same file, when there is
 * one). Each cut is marked in the index so the next open does not report it again, and the
 * store's sequence is moved past every id the index saw, so no id is ever handed out twice.
 * Answers the acknowledged deletes that were cut.
 */
function checkTail(ctx: ReplayContext, from: LogPosition): MessagesDelete[] {
  const { journal, state, tailView } = ctx;
  const damage = ctx.damage.reports;
  const losses = findTailLosses(tailView, from, (no) => journal.segments.get(no)?.size, state, ctx.ids);
  if (tailView.maxSeq > state.seq) state.seq = tailView.maxSeq;
  const lostDeletes: MessagesDelete[] = [];
  for (const loss of losses) {
    const file = join(ctx.logDir, segmentFileName(loss.segment));
    const sealed = damage.find((d) => d.file === file);
    const report: DamageReport = sealed ?? {
      file,
      start: loss.end,
      end: loss.durable,
      lostMessageIds: [],
      note: loss.missing
        ? 'the newest log segment is missing: the acknowledged changes it held were lost'
        : 'the newest log records were cut off below what was durable (not a torn write): acknowledged changes were lost',
    };
    const named = new Set(report.lostMessageIds);
    for (const id of loss.lostMessageIds) if (!named.has(id)) report.lostMessageIds.push(id);
    if (loss.lostDeleteIds.length > 0) {
      report.reappliedDeleteIds = [...(report.reappliedDeleteIds ?? []), ...loss.lostDeleteIds];
      report.note += '; the acknowledged deletes it held are done again';
    }
    if (!sealed) damage.push(report);
    lostDeletes.push(...loss.deletes);
    ctx.tail.markCut(loss.segment, loss.end);
  }
  return lostDeletes;
}
