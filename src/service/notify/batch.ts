import { isPlainObject } from '../../core/index.js';
import type { ResourceKind } from '../namespaces.js';
import type { Payload } from './payloads.js';

/**
 * The notifications of one spooled message. Many posted messages, to many subscribers, share a
 * spool message: the spool writes and fsyncs its files once for all of them (a file per posted
 * message would cap notifications at the spool's file rate). Each (notification, subscription)
 * pair is a recipient of the spool message, `<subscription id>/<item index>`, so the spool keeps
 * a result per pair: a retry goes only to the pairs not yet delivered, and the pending count of
 * a subscription is read from the spool's metadata without opening the data.
 */

/** What delivery needs to know of a subscription, as it was when its notifications were spooled. */
export interface SpooledSubscription {
  id: string;
  kind: ResourceKind;
  project: string;
  /** The queue (or topic) it subscribes to. */
  source: string;
  subscriber: string;
  options: Record<string, unknown>;
  expiresAt: number;
}

export interface NotificationBatch {
  subscriptions: SpooledSubscription[];
  /** The notifications (the documents subscribers receive). */
  items: Payload[];
}

export function recipientOf(subscriptionId: string, item: number): string {
  return `${subscriptionId}/${item}`;
}

/** The subscription id and item index of a recipient; null for anything else. */
export function parseRecipient(recipient: string): { subscriptionId: string; item: number } | null {
  const slash = recipient.lastIndexOf('/');
  if (slash <= 0) return null;
  const item = Number(recipient.slice(slash + 1));
  if (!Number.isInteger(item) || item < 0) return null;
  return { subscriptionId: recipient.slice(0, slash), item };
}

/** The data of a spooled message; `items` are the notifications, each already JSON. */
export function encodeBatch(subscriptions: readonly SpooledSubscription[], items: readonly string[]): string {
  return `{"v":1,"subscriptions":${JSON.stringify(subscriptions)},"items":[${items.join(',')}]}`;
}

export function decodeBatch(bytes: Uint8Array): NotificationBatch {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  if (!isPlainObject(doc) || doc.v !== 1 || !Array.isArray(doc.subscriptions) || !Array.isArray(doc.items)) {
    throw new TypeError('not a notification batch');
  }
  for (const s of doc.subscriptions) {
    if (
      !isPlainObject(s) ||
      typeof s.id !== 'string' ||
      (s.kind !== 'queue' && s.kind !== 'topic') ||
      typeof s.project !== 'string' ||
      typeof s.source !== 'string' ||
      typeof s.subscriber !== 'string' ||
      !isPlainObject(s.options) ||
      typeof s.expiresAt !== 'number'
    ) {
      throw new TypeError('a subscription of the batch is malformed');
    }
  }
  if (!doc.items.every(isPlainObject)) throw new TypeError('an item of the batch is malformed');
  return { subscriptions: doc.subscriptions as SpooledSubscription[], items: doc.items as Payload[] };
}
