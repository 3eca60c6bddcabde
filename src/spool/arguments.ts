import {
  checkEnvelope,
  checkRecipients,
  type Envelope,
  InvalidArgumentError,
  isPlainObject,
  newId,
  type SpooledEnvelope,
} from '../core/index.js';
import { MESSAGE_ID_PATTERN, type MessageMeta } from './message-metadata.js';
import type { Section } from './types.js';

/**
 * What callers hand the Spool, checked before anything touches the disk: the envelope and
 * sections of new messages (planned here into their metadata) and the arguments of operator
 * actions. Each check throws InvalidArgumentError naming the field, so a bad call changes nothing.
 */

const MAX_SECTIONS = 1000;

export interface PlannedMessage {
  meta: MessageMeta;
  envelope: SpooledEnvelope;
}

/** One new message per section, all of one parent; nothing is written. */
export function planMessages<H>(
  envelope: Envelope,
  sections: readonly Section<H>[],
  how: { status: 'send-now' | 'quarantined'; reason: string | null; now: number; retryIntervals: readonly number[] },
): PlannedMessage[] {
  const base = checkSpoolEnvelope(envelope);
  if (!Array.isArray(sections) || sections.length === 0) {
    throw new InvalidArgumentError('sections', 'must list at least one section');
  }
  if (sections.length > MAX_SECTIONS) throw new InvalidArgumentError('sections', `at most ${MAX_SECTIONS}`);
  const { status, reason, now } = how;
  const parentId = newId(now);
  return sections.map((section, i) => {
    const field = `sections[${i}]`;
    if (!isPlainObject(section)) throw new InvalidArgumentError(field, 'must be an object');
    let recipients = base.recipients;
    if (section.recipients !== undefined) {
      recipients = checkSectionRecipients(section.recipients, `${field}.recipients`);
      const known = new Set(base.recipients);
      const stranger = recipients.find((r) => !known.has(r));
      if (stranger !== undefined) {
        throw new InvalidArgumentError(
          `${field}.recipients`,
          `${JSON.stringify(stranger)} is not a recipient of the envelope`,
        );
      }
    }
    const retryIntervals =
      section.retryIntervals === undefined
        ? [...how.retryIntervals]
        : checkIntervals(section.retryIntervals, `${field}.retryIntervals`);
    const meta: MessageMeta = {
      id: `${parentId}-${i}`,
      parentId,
      sender: base.sender,
      spooledAt: now,
      nextHop: checkJson(section.nextHop, `${field}.nextHop`),
      status,
      nextAttemptAt: status === 'send-now' ? now : null,
      retryIntervals,
      attempts: 0,
      lastAttemptAt: null,
      lastError: null,
      recipients: recipients.map((address) => ({ address, state: 'pending', reason: null, at: null })),
      frozenReason: null,
      quarantineReason: reason,
    };
    return { meta, envelope: { ...base, recipients } };
  });
}

/** The envelope checked and copied; duplicate recipients are dropped (as Postfix does). */
function checkSpoolEnvelope(envelope: Envelope): SpooledEnvelope {
  const checked = checkEnvelope(envelope);
  return { ...checked, recipients: [...new Set(checked.recipients)] };
}

/** Recipients: at least one, each a non-empty string without line breaks; duplicates are dropped. */
function checkSectionRecipients(value: unknown, field: string): string[] {
  return [...new Set(checkRecipients(value, field))];
}

export function checkIntervals(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || value.length > 1000)
    throw new InvalidArgumentError(field, 'must be a list of at most 1000 intervals');
  return value.map((n, i) => {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${field}[${i}]`, 'must be a number of milliseconds, 0 or more');
    }
    return n;
  });
}

export function checkIds(value: unknown): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError('ids', 'must be a list of message ids');
  value.forEach((id, i) => {
    if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) {
      throw new InvalidArgumentError(`ids[${i}]`, `${JSON.stringify(id)} is not a spool message id`);
    }
  });
  return [...new Set(value as string[])];
}

export function checkReason(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > 1000) {
    throw new InvalidArgumentError('reason', 'must be a non-empty text of at most 1000 characters');
  }
  return value;
}

function checkJson(value: unknown, field: string): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (error) {
    throw new InvalidArgumentError(field, 'must be JSON', { cause: error });
  }
}
