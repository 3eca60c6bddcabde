import type { PoppedMessage, QueueMessage, QueueStatsInfo, QueueSummary, SubscriptionInfo } from './types.js';

/**
 * The one place the client reads Zaqar's snake_case documents into its camelCase types, and
 * builds the query strings it sends.
 */

type Doc = Record<string, unknown>;

function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0);
}

/** The last path segment of an href, decoded: the id of a message, claim or queue. */
export function lastSegment(href: string): string {
  const path = href.split('?')[0] ?? '';
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}

/** A query parameter of an href (`marker` of a next link, `claim_id` of a message href). */
export function queryParam(href: string, name: string): string | null {
  const q = href.indexOf('?');
  if (q === -1) return null;
  return new URLSearchParams(href.slice(q + 1)).get(name);
}

export function messageFrom(doc: Doc): QueueMessage {
  const href = typeof doc.href === 'string' ? doc.href : '';
  const message: QueueMessage = {
    id: String(doc.id),
    href,
    body: doc.body,
    ttl: num(doc.ttl),
    age: num(doc.age),
    claimId: typeof doc.claim_id === 'string' ? doc.claim_id : queryParam(href, 'claim_id'),
    claimCount: num(doc.claim_count),
  };
  if (typeof doc.checksum === 'string') message.checksum = doc.checksum;
  return message;
}

export function poppedFrom(doc: Doc): PoppedMessage {
  const message: PoppedMessage = {
    id: String(doc.id),
    body: doc.body,
    ttl: num(doc.ttl),
    age: num(doc.age),
    claimCount: num(doc.claim_count),
  };
  if (typeof doc.checksum === 'string') message.checksum = doc.checksum;
  return message;
}

export function messagesFrom(doc: unknown): QueueMessage[] {
  const list = (doc as { messages?: unknown } | undefined)?.messages;
  return Array.isArray(list) ? list.map((m) => messageFrom(m as Doc)) : [];
}

/** The marker of a listing's next link, or null when it has none. */
export function nextMarker(doc: unknown): string | null {
  const links = (doc as { links?: unknown } | undefined)?.links;
  if (!Array.isArray(links)) return null;
  const next = links.find((l) => (l as Doc)?.rel === 'next') as Doc | undefined;
  return typeof next?.href === 'string' ? queryParam(next.href, 'marker') : null;
}

export function statsFrom(doc: unknown): QueueStatsInfo {
  const m = ((doc as Doc | undefined)?.messages ?? {}) as Doc;
  const stats: QueueStatsInfo = { claimed: num(m.claimed), free: num(m.free), total: num(m.total) };
  for (const end of ['oldest', 'newest'] as const) {
    const stamp = m[end] as Doc | undefined;
    if (stamp) stats[end] = { age: num(stamp.age), created: String(stamp.created), href: String(stamp.href) };
  }
  return stats;
}

export function queueSummaryFrom(doc: Doc): QueueSummary {
  const summary: QueueSummary = { name: String(doc.name), href: String(doc.href ?? '') };
  if (doc.metadata !== undefined) summary.metadata = doc.metadata as Record<string, unknown>;
  return summary;
}

export function subscriptionFrom(doc: Doc): SubscriptionInfo {
  const info: SubscriptionInfo = {
    id: String(doc.id),
    subscriber: String(doc.subscriber),
    source: String(doc.source),
    ttl: num(doc.ttl),
    age: num(doc.age),
    options: (doc.options ?? {}) as Record<string, unknown>,
    confirmed: doc.confirmed === true,
  };
  const status = doc.delivery_status as Doc | undefined;
  if (status) {
    info.deliveryStatus = {
      delivered: num(status.delivered),
      pending: num(status.pending),
      failed: num(status.failed),
    };
  }
  return info;
}

/** `?a=1&b=x` of the defined entries; '' when none is. */
export function query(entries: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(entries)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** A path segment. */
export function seg(text: string): string {
  return encodeURIComponent(text);
}
