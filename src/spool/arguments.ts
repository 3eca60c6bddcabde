import { InvalidArgumentError, isPlainObject, newId } from '../core/index.js';
import { MESSAGE_ID_PATTERN, type MessageMeta } from './message-metadata.js';
import type { Envelope, Section, SpooledEnvelope } from './types.js';

/**
 * What callers hand the Spool, checked before anything touches the disk: the envelope and
 * sections of new messages (planned here into their metadata) and the arguments of operator
 * actions. Each check throws InvalidArgumentError naming the field, so a bad call changes nothing.
 */

const MAX_ADDRESS = 4096;
const MAX_SECTIONS = 1000;
const HEADER_NAME = /^[!-9;-~]+$/;
const LINE_BREAK = /[\r\n\0]/;

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
  const base = checkEnvelope(envelope);
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
      recipients = checkRecipients(section.recipients, `${field}.recipients`);
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

function checkEnvelope(envelope: Envelope): SpooledEnvelope {
  if (!isPlainObject(envelope)) throw new InvalidArgumentError('envelope', 'must be an object');
  const { sender, headers = [], body } = envelope;
  if (typeof sender !== 'string' || sender.length > MAX_ADDRESS || LINE_BREAK.test(sender)) {
    throw new InvalidArgumentError('envelope.sender', 'must be a string without line breaks ("" is the null sender)');
  }
  const recipients = checkRecipients(envelope.recipients, 'envelope.recipients');
  if (!Array.isArray(headers))
    throw new InvalidArgumentError('envelope.headers', 'must be a list of [name, value] pairs');
  const copied: [string, string][] = headers.map((h, i) => {
    const field = `envelope.headers[${i}]`;
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string') {
      throw new InvalidArgumentError(field, 'must be a [name, value] pair of strings');
    }
    if (!HEADER_NAME.test(h[0])) throw new InvalidArgumentError(field, `${JSON.stringify(h[0])} is not a header name`);
    if (LINE_BREAK.test(h[1])) throw new InvalidArgumentError(field, 'a header value must not hold line breaks');
    return [h[0], h[1]];
  });
  let bytes: Buffer;
  if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else throw new InvalidArgumentError('envelope.body', 'must be a string or bytes');
  return { sender, recipients, headers: copied, body: bytes };
}

/** Recipients: at least one, each a non-empty string without line breaks; duplicates are dropped (as Postfix does). */
function checkRecipients(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new InvalidArgumentError(field, 'must list at least one recipient');
  const out: string[] = [];
  const seen = new Set<string>();
  value.forEach((r, i) => {
    if (typeof r !== 'string' || r.length === 0 || r.length > MAX_ADDRESS || LINE_BREAK.test(r)) {
      throw new InvalidArgumentError(`${field}[${i}]`, 'must be a non-empty string without line breaks');
    }
    if (!seen.has(r)) {
      seen.add(r);
      out.push(r);
    }
  });
  return out;
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
