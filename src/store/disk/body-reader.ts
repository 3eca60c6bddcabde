import { crc32 } from 'node:zlib';
import { CorruptDataError, decodeValue } from '../../core/index.js';
import { type Effect, FLAG_BODY_CRC, type Row, type StoreState } from '../state/index.js';
import type { Journal } from './journal.js';
import { BODY_CRC_BYTES } from './log-format.js';
import { refOffset, refSegment } from './record-codec.js';

/**
 * Bodies stay in the log where they were written and are read back when asked for, long after
 * their record's CRC was checked at open: each is checked again against its own CRC, and one
 * that fails, or is not there, is DAMAGED rather than served.
 */

/** loadBodies' answer for a row whose body is damaged. */
export const DAMAGED: unique symbol = Symbol('damaged body');

/** The decoded bodies of these rows, in order, or DAMAGED for each that cannot be read intact. */
export function loadBodies(journal: Journal, rows: Row[]): unknown[] {
  // Read neighbouring bodies with one call: a claim's messages usually lie side by side.
  const order = rows.map((_, k) => k).sort((a, b) => refOf(rows[a] as Row) - refOf(rows[b] as Row));
  const out: unknown[] = new Array(rows.length);
  for (let k = 0; k < order.length; ) {
    const first = rows[order[k] as number] as Row;
    const segment = refSegment(refOf(first));
    const start = startOf(first);
    let end = refOffset(refOf(first)) + (first.queue.cols.bodyLen[first.i] as number);
    let j = k + 1;
    while (j < order.length) {
      const row = rows[order[j] as number] as Row;
      const ref = refOf(row);
      if (refSegment(ref) !== segment || startOf(row) - end > 16_384) break;
      end = Math.max(end, refOffset(ref) + (row.queue.cols.bodyLen[row.i] as number));
      j++;
    }
    let span: Buffer | null = null;
    try {
      span = journal.read(segment, start, end - start);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error; // the disk failed: not damage
      span = null; // read each body alone below, so one bad body does not take its neighbours
    }
    for (; k < j; k++) {
      const at = order[k] as number;
      const row = rows[at] as Row;
      out[at] = span ? bodyIn(row, span, start) : bodyAlone(journal, row);
    }
  }
  return out;
}

/** A row's encoded body, checked against its CRC; null when damaged or unreadable. */
export function rawBody(journal: Journal, row: Row): Buffer | null {
  const start = startOf(row);
  const ref = refOf(row);
  const len = row.queue.cols.bodyLen[row.i] as number;
  try {
    const span = journal.read(refSegment(ref), start, refOffset(ref) + len - start);
    const body = span.subarray(span.length - len);
    if ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC && crc32(body) !== span.readUInt32BE(0)) return null;
    return Buffer.from(body);
  } catch (error) {
    if (!(error instanceof CorruptDataError)) throw error;
    return null;
  }
}

/** Sets the FLAG_BODY_CRC of the rows a post or relocation (with body CRCs) made or moved. */
export function markBodyCrc(state: StoreState, effect: Effect): void {
  if (effect.type === 'post') {
    const q = state.find(effect.project, effect.queue);
    if (!q) return;
    // applyPost appended the post's rows last, in order.
    const c = q.cols;
    for (let i = Math.max(0, c.length - effect.messages.length); i < c.length; i++) {
      c.flags[i] = (c.flags[i] as number) | FLAG_BODY_CRC;
    }
  } else if (effect.type === 'relocate') {
    for (const { project, queue, order } of effect.entries) {
      const q = state.find(project, queue);
      const i = q ? q.cols.find(order) : -1;
      if (q && i >= 0) q.cols.flags[i] = (q.cols.flags[i] as number) | FLAG_BODY_CRC;
    }
  }
}

export function refOf(row: Row): number {
  return row.queue.cols.bodyRef[row.i] as number;
}

/** Where a row's bytes start on disk: at its body's CRC when it has one. */
function startOf(row: Row): number {
  const gap = ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC) !== 0 ? BODY_CRC_BYTES : 0;
  return refOffset(refOf(row)) - gap;
}

/** The decoded body of a row from a span read at `spanStart`, or DAMAGED. */
function bodyIn(row: Row, span: Buffer, spanStart: number): unknown {
  const from = refOffset(refOf(row)) - spanStart;
  const body = span.subarray(from, from + (row.queue.cols.bodyLen[row.i] as number));
  if ((row.queue.cols.flags[row.i] as number) & FLAG_BODY_CRC) {
    if (crc32(body) !== span.readUInt32BE(from - BODY_CRC_BYTES)) return DAMAGED;
  }
  try {
    return decodeValue(body);
  } catch {
    return DAMAGED;
  }
}

function bodyAlone(journal: Journal, row: Row): unknown {
  const start = startOf(row);
  const end = refOffset(refOf(row)) + (row.queue.cols.bodyLen[row.i] as number);
  try {
    return bodyIn(row, journal.read(refSegment(refOf(row)), start, end - start), start);
  } catch (error) {
    if (!(error instanceof CorruptDataError)) throw error;
    return DAMAGED;
  }
}
