import { isPlainObject } from '../core/index.js';

/**
 * How a retried or dead-lettered job carries its history inside the message body, so the
 * attempt count survives a worker crash and travels with the message, whatever the store:
 * `{ "$posthorn": { attempt, error?, queue?, id? }, "body": <the producer's body> }`.
 * A body that is not exactly this shape is a first attempt, as a producer posted it.
 */
export const ENVELOPE_KEY = '$posthorn';

export interface JobHistory {
  /** The attempt this message is for (1 = the first). */
  attempt: number;
  /** The error of the attempt before, as text. */
  error?: { name: string; message: string };
  /** Where a dead letter came from. */
  queue?: string;
  id?: string;
}

export interface OpenedBody {
  body: unknown;
  history: JobHistory | null;
}

export function wrapBody(body: unknown, history: JobHistory): Record<string, unknown> {
  return { [ENVELOPE_KEY]: history, body };
}

export function openBody(raw: unknown): OpenedBody {
  // The key test first: almost no body is an envelope, and it spares listing the keys of each.
  if (!isPlainObject(raw) || !(ENVELOPE_KEY in raw)) return { body: raw, history: null };
  if (Object.keys(raw).length !== 2 || !('body' in raw)) return { body: raw, history: null };
  const history = raw[ENVELOPE_KEY];
  if (!isPlainObject(history) || typeof history.attempt !== 'number' || !Number.isInteger(history.attempt)) {
    return { body: raw, history: null };
  }
  return { body: raw.body, history: history as unknown as JobHistory };
}

/** An error as a message can keep it. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
