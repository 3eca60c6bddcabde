import { decodeValue, isId, type Message, type Subscription } from '../../core/index.js';
import { ageSeconds } from '../contract/index.js';

/** A message row as the statements select it (bigint columns arrive as numbers, see types.ts). */
export interface MessageRow {
  id: string;
  seq: number;
  body: Buffer;
  ttl: number;
  created_at: number;
  expires_at: number;
  visible_at: number;
  claim_id: string | null;
  claim_expires_at: number;
  claim_count: number;
  client_id: string;
  checksum: string | null;
}

/** The message columns, in the order every statement selects them (alias `m`). */
export const MESSAGE_COLUMNS =
  'm.id, m.seq, m.body, m.ttl, m.created_at, m.expires_at, m.visible_at, m.claim_id, m.claim_expires_at, ' +
  'm.claim_count, m.client_id, m.checksum';

export interface SubscriptionRow {
  id: string;
  subscriber: string;
  ttl: number;
  created_at: number;
  expires_at: number;
  options: Record<string, unknown>;
  confirmed: boolean;
}

export const SUBSCRIPTION_COLUMNS = 's.id, s.subscriber, s.ttl, s.created_at, s.expires_at, s.options, s.confirmed';

/**
 * Ids are kept as uuid (16 bytes, fast to index): Posthorn's 32-hex ids are uuids without the
 * dashes, and PostgreSQL accepts them so. Anything else cannot name a stored object.
 */
export function toUuid(id: string): string | null {
  return isId(id) ? id : null;
}

/** A uuid as PostgreSQL prints it (with dashes) back to Posthorn's 32-hex form. */
export function fromUuid(uuid: string): string {
  return uuid.length === 36
    ? uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18) + uuid.slice(19, 23) + uuid.slice(24)
    : uuid;
}

export function toMessage(row: MessageRow, now: number, claimCountOffset = 0): Message {
  const claimed = row.claim_id !== null && row.claim_expires_at > now;
  return {
    id: fromUuid(row.id),
    body: decodeValue(row.body),
    ttl: row.ttl,
    age: ageSeconds(now, row.created_at),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    visibleAt: row.visible_at,
    claimId: claimed ? fromUuid(row.claim_id as string) : null,
    claimExpiresAt: claimed ? row.claim_expires_at : null,
    claimCount: row.claim_count + claimCountOffset,
    clientId: row.client_id,
    ...(row.checksum !== null ? { checksum: row.checksum } : {}),
  };
}

export function toSubscription(row: SubscriptionRow, queue: string, now: number): Subscription {
  return {
    id: fromUuid(row.id),
    source: queue,
    subscriber: row.subscriber,
    ttl: row.ttl,
    age: ageSeconds(now, row.created_at),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    options: row.options,
    confirmed: row.confirmed,
  };
}

const SEQ_MARKER = /^\d{1,15}$/;

/** A position marker this store handed out, or null when `marker` is not one. */
export function parseSeqMarker(marker: string): number | null {
  return SEQ_MARKER.test(marker) ? Number(marker) : null;
}

/**
 * The rows a take function returned, less the row (id null) by which it tells how many messages
 * it dead-lettered (in its claim_count), and that number.
 */
export function withoutTakeReport(rows: MessageRow[]): { rows: MessageRow[]; deadLettered: number } {
  const report = rows.find((r) => (r.id as string | null) === null);
  if (report === undefined) return { rows, deadLettered: 0 };
  return { rows: rows.filter((r) => r !== report), deadLettered: report.claim_count };
}
