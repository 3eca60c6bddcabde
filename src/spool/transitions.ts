import { ResourceConflictError } from '../core/index.js';
import type { MessageMeta } from './message-metadata.js';

/**
 * What operators do to a message, as pure functions of its metadata, shared by the running
 * Spool and the `posthorn spool` command so both follow the same rules (async_smtp's):
 * only a frozen message can be removed; recovered messages come back frozen, to be sent
 * explicitly; sending moves permanently failed recipients back to pending.
 */

const KIND = 'spool message';

function isActive(meta: MessageMeta): boolean {
  return meta.status === 'send-now' || meta.status === 'send-at';
}

export function freezeMeta(meta: MessageMeta, reason: string): MessageMeta {
  if (meta.status === 'frozen') return meta;
  if (!isActive(meta))
    throw new ResourceConflictError(KIND, meta.id, `is ${meta.status}; only waiting messages can be frozen`);
  return { ...meta, status: 'frozen', nextAttemptAt: null, frozenReason: reason };
}

/** Send now: unfreezes, puts `retryIntervals` before the ones left, and gives failed recipients another chance. */
export function sendMeta(meta: MessageMeta, retryIntervals: readonly number[], now: number): MessageMeta {
  if (!isActive(meta) && meta.status !== 'frozen') {
    throw new ResourceConflictError(KIND, meta.id, `is ${meta.status}; recover it first`);
  }
  return {
    ...meta,
    status: 'send-now',
    nextAttemptAt: now,
    retryIntervals: [...retryIntervals, ...meta.retryIntervals],
    frozenReason: null,
    recipients: meta.recipients.map((r) => (r.state === 'failed' ? { ...r, state: 'pending', at: null } : r)),
  };
}

export function removeMeta(meta: MessageMeta): MessageMeta {
  if (meta.status !== 'frozen') {
    throw new ResourceConflictError(
      KIND,
      meta.id,
      `is ${meta.status}; only a frozen message can be removed (freeze it first)`,
    );
  }
  return { ...meta, status: 'removed', nextAttemptAt: null };
}

export function recoverMeta(meta: MessageMeta, from: 'removed' | 'quarantined'): MessageMeta {
  if (meta.status !== from) throw new ResourceConflictError(KIND, meta.id, `is ${meta.status}, not ${from}`);
  return {
    ...meta,
    status: 'frozen',
    nextAttemptAt: null,
    frozenReason: `recovered from ${from}`,
    quarantineReason: null,
  };
}

export function quarantineMeta(meta: MessageMeta, reason: string): MessageMeta {
  if (!isActive(meta) && meta.status !== 'frozen') {
    throw new ResourceConflictError(
      KIND,
      meta.id,
      `is ${meta.status}; only waiting or frozen messages can be quarantined`,
    );
  }
  return { ...meta, status: 'quarantined', nextAttemptAt: null, quarantineReason: reason };
}
