import { type Clock, isPlainObject, type Timer } from '../core/index.js';
import type { DeliveryFunction, DeliveryJob, DeliveryReport } from './types.js';

/**
 * One call of the delivery function and the reading of what it reports: the part of an attempt
 * that trusts nothing the caller's code does (it may throw, hang, or report nonsense), kept
 * apart from the Spool's scheduling so each can be read on its own.
 */

export type ReportedOutcome = { status: 'delivered' } | { status: 'try-later' | 'failed'; reason: string };

const TIMED_OUT = Symbol('timed out');

/** Calls the delivery function, bounded by the delivery timeout; a throw or a timeout is an error text. */
export async function callDelivery<H>(
  deliver: DeliveryFunction<H>,
  job: Omit<DeliveryJob<H>, 'signal'>,
  clock: Clock,
  timeoutMs: number,
): Promise<{ report: DeliveryReport } | { error: string }> {
  const controller = new AbortController();
  let timer: Timer | undefined;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = clock.setTimer(timeoutMs, () => resolve(TIMED_OUT));
  });
  const delivering = Promise.resolve().then(() => deliver({ ...job, signal: controller.signal }));
  delivering.catch(() => {}); // a late failure after a timeout is no one's to handle
  try {
    const result = await Promise.race([delivering, timedOut]);
    if (result === TIMED_OUT) {
      const error = `delivery timed out after ${timeoutMs} ms`;
      controller.abort(new Error(error));
      return { error };
    }
    return { report: result };
  } catch (error) {
    return { error: (error as Error)?.message ?? String(error) };
  } finally {
    timer?.cancel();
  }
}

/**
 * The outcome the report gives each pending recipient (recipients it does not name are left
 * out); null when what came back is not a report at all.
 */
export function readReport(report: DeliveryReport, pending: readonly string[]): Map<string, ReportedOutcome> | null {
  const out = new Map<string, ReportedOutcome>();
  if (report === 'delivered') {
    for (const r of pending) out.set(r, { status: 'delivered' });
    return out;
  }
  const entries = report instanceof Map ? [...report.entries()] : isPlainObject(report) ? Object.entries(report) : null;
  if (entries === null) return null;
  const wanted = new Set(pending);
  for (const [recipient, outcome] of entries) {
    if (!wanted.has(recipient)) continue;
    if (outcome === 'delivered' || (isPlainObject(outcome) && outcome.status === 'delivered')) {
      out.set(recipient, { status: 'delivered' });
    } else if (isPlainObject(outcome) && (outcome.status === 'try-later' || outcome.status === 'failed')) {
      out.set(recipient, { status: outcome.status, reason: String(outcome.reason ?? outcome.status) });
    } else {
      out.set(recipient, { status: 'try-later', reason: 'the delivery function returned an invalid outcome' });
    }
  }
  return out;
}
