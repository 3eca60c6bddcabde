import { jsonMetadata, type MetadataCodec } from '../multispool/index.js';
import type { RecipientInfo, SpooledMessageInfo } from './types.js';

/** Status on disk; the queue folder follows from it (see queueOf). */
export type DiskStatus = 'send-now' | 'send-at' | 'frozen' | 'removed' | 'quarantined';

export const SPOOL_QUEUES = ['active', 'frozen', 'removed', 'quarantine'] as const;
export type SpoolQueue = (typeof SPOOL_QUEUES)[number];

/**
 * A spooled message's metadata: small, rewritten at every step, readable with `cat`. The
 * envelope itself is in the data file, written once. Version 1 of the format.
 */
export interface MessageMeta {
  id: string;
  parentId: string;
  sender: string;
  spooledAt: number;
  nextHop: unknown;
  status: DiskStatus;
  /** For send-at: when to try next (ms since the epoch). */
  nextAttemptAt: number | null;
  /** Intervals (ms) still to wait after each failed attempt; when none are left the message freezes or bounces. */
  retryIntervals: number[];
  attempts: number;
  lastAttemptAt: number | null;
  lastError: string | null;
  recipients: RecipientInfo[];
  frozenReason: string | null;
  quarantineReason: string | null;
}

export function queueOf(status: DiskStatus): SpoolQueue {
  switch (status) {
    case 'send-now':
    case 'send-at':
      return 'active';
    case 'frozen':
      return 'frozen';
    case 'removed':
      return 'removed';
    case 'quarantined':
      return 'quarantine';
  }
}

/** Message ids: the parent's id (core/ids) and the section's index. */
export const MESSAGE_ID_PATTERN = /^[0-9a-f]{32}-[0-9]{1,4}$/;

const STATUSES: ReadonlySet<string> = new Set(['send-now', 'send-at', 'frozen', 'removed', 'quarantined']);
const RECIPIENT_STATES: ReadonlySet<string> = new Set(['pending', 'delivered', 'failed']);

function fail(what: string): never {
  throw new TypeError(`spool message metadata: ${what}`);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const orNull = <T>(v: unknown, check: (x: unknown) => x is T): T | null =>
  v === null || v === undefined ? null : check(v) ? v : fail('a field has the wrong type');

/** Reads version 1, checking every field: a file that passes is safe to schedule. */
function readV1(value: unknown): MessageMeta {
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('not an object');
  const v = value as Record<string, unknown>;
  if (!isString(v.id) || !MESSAGE_ID_PATTERN.test(v.id)) fail('bad id');
  if (!isString(v.parentId)) fail('bad parentId');
  if (!isString(v.sender)) fail('bad sender');
  if (!isTime(v.spooledAt)) fail('bad spooledAt');
  if (!isString(v.status) || !STATUSES.has(v.status)) fail('bad status');
  if (!Array.isArray(v.retryIntervals) || !v.retryIntervals.every((n) => isTime(n) && n >= 0))
    fail('bad retryIntervals');
  if (typeof v.attempts !== 'number' || !Number.isInteger(v.attempts) || v.attempts < 0) fail('bad attempts');
  if (!Array.isArray(v.recipients) || v.recipients.length === 0) fail('no recipients');
  const recipients = v.recipients.map((r): RecipientInfo => {
    const x = r as Record<string, unknown>;
    if (!x || !isString(x.address) || !isString(x.state) || !RECIPIENT_STATES.has(x.state)) fail('bad recipient');
    return {
      address: x.address,
      state: x.state as RecipientInfo['state'],
      reason: orNull(x.reason, isString),
      at: orNull(x.at, isTime),
    };
  });
  const meta: MessageMeta = {
    id: v.id,
    parentId: v.parentId,
    sender: v.sender,
    spooledAt: v.spooledAt,
    nextHop: v.nextHop ?? null,
    status: v.status as DiskStatus,
    nextAttemptAt: orNull(v.nextAttemptAt, isTime),
    retryIntervals: v.retryIntervals as number[],
    attempts: v.attempts,
    lastAttemptAt: orNull(v.lastAttemptAt, isTime),
    lastError: orNull(v.lastError, isString),
    recipients,
    frozenReason: orNull(v.frozenReason, isString),
    quarantineReason: orNull(v.quarantineReason, isString),
  };
  if (meta.status === 'send-at' && meta.nextAttemptAt === null) fail('send-at without nextAttemptAt');
  return meta;
}

/** New versions add a reader here that upgrades the old shape (see multispool's jsonMetadata). */
export const messageMetaCodec: MetadataCodec<MessageMeta> = jsonMetadata<MessageMeta>({
  version: 1,
  read: { 1: readV1 },
});

/** What status() and `posthorn spool status` show for a message. */
export function describeMessage<H = unknown>(m: MessageMeta, delivering = false): SpooledMessageInfo<H> {
  const waiting = m.status === 'send-now' || m.status === 'send-at';
  return {
    id: m.id,
    parentId: m.parentId,
    state: delivering ? 'delivering' : m.status,
    sender: m.sender,
    recipients: m.recipients.map((r) => ({ ...r })),
    nextHop: m.nextHop as H | null,
    spooledAt: m.spooledAt,
    nextAttemptAt: waiting ? m.nextAttemptAt : null,
    attempts: m.attempts,
    lastAttemptAt: m.lastAttemptAt,
    lastError: m.lastError,
    retryIntervals: [...m.retryIntervals],
    frozenReason: m.frozenReason,
    quarantineReason: m.quarantineReason,
  };
}
