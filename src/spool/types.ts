/**
 * The delivery Spool's vocabulary. A message is an envelope (sender, recipients, headers, body)
 * plus, per section, where it goes next (`nextHop`, whatever the delivery function needs: mail
 * hosts, a webhook's settings) and the retry intervals. Recipients are plain strings — mail
 * addresses, or subscriber URLs when the spool carries webhook notifications — and each has its
 * own result, so a retry goes only to the recipients not yet delivered.
 */

import type { SpooledEnvelope } from '../core/index.js';

/** One section (next hop) of a message; each is spooled and delivered on its own. */
export interface Section<H = unknown> {
  /** The envelope's recipients this section is for (default: all of them). */
  recipients?: readonly string[];
  /** Where to deliver; handed to the delivery function as it is. Must be JSON. */
  nextHop?: H;
  /** Milliseconds to wait after each failed attempt (default: the spool's). */
  retryIntervals?: readonly number[];
}

/** A recipient's result from one delivery attempt. */
export type RecipientOutcome =
  | 'delivered'
  | { status: 'delivered' }
  | { status: 'try-later'; reason: string }
  | { status: 'failed'; reason: string };

/**
 * What a delivery function reports: `'delivered'` for every recipient, or an outcome per
 * recipient. A recipient left out counts as try-later; a thrown error is try-later for all.
 */
export type DeliveryReport =
  | 'delivered'
  | Readonly<Record<string, RecipientOutcome>>
  | ReadonlyMap<string, RecipientOutcome>;

export interface DeliveryJob<H> {
  id: string;
  parentId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The envelope with only the recipients still to deliver. */
  envelope: SpooledEnvelope;
  nextHop: H | null;
  /** Aborted when the delivery timeout passes; the attempt then counts as try-later. */
  signal: AbortSignal;
}

export type DeliveryFunction<H> = (job: DeliveryJob<H>) => Promise<DeliveryReport> | DeliveryReport;

export interface FailedRecipient {
  recipient: string;
  reason: string;
}

/** What the bounce hook is told when a message ends with recipients that were not delivered. */
export interface Bounce<H> {
  id: string;
  parentId: string;
  /** The section's envelope, with all its recipients. */
  envelope: SpooledEnvelope;
  failed: FailedRecipient[];
  delivered: string[];
  nextHop: H | null;
}

/**
 * Called when a message fails for good (slimta's bounce): typically adds a delivery status
 * notification to a spool. When it resolves the message is done and leaves the spool; when it
 * throws the message is frozen instead, so nothing is lost. Do not bounce a null sender.
 */
export type BounceHook<H> = (bounce: Bounce<H>) => Promise<void> | void;

/** Where a message stands. `delivering` is in memory only: on disk it is still active. */
export type MessageState = 'send-now' | 'send-at' | 'delivering' | 'frozen' | 'removed' | 'quarantined';

export interface RecipientInfo {
  address: string;
  state: 'pending' | 'delivered' | 'failed';
  /** The last try-later or failure reason. */
  reason: string | null;
  /** When it was delivered or failed. */
  at: number | null;
}

export interface SpooledMessageInfo<H = unknown> {
  id: string;
  parentId: string;
  state: MessageState;
  sender: string;
  recipients: RecipientInfo[];
  nextHop: H | null;
  spooledAt: number;
  nextAttemptAt: number | null;
  attempts: number;
  lastAttemptAt: number | null;
  lastError: string | null;
  retryIntervals: number[];
  frozenReason: string | null;
  quarantineReason: string | null;
}

export interface SpoolStatus<H = unknown> {
  /** Every message this spool knows of (not necessarily a snapshot; countFromDisk is the true count). */
  messages: SpooledMessageInfo<H>[];
  running: number;
  maxConcurrentJobs: number;
  /** True after killAndFlush: no new deliveries start. */
  killed: boolean;
}

export type SpoolEvent =
  | { type: 'spooled'; id: string; at: number }
  | { type: 'delivering'; id: string; at: number; attempt: number; recipients: string[] }
  | { type: 'delivered'; id: string; at: number; recipients: string[] }
  | { type: 'delayed'; id: string; at: number; until: number; reason: string; delivered: string[]; failed: string[] }
  | { type: 'frozen'; id: string; at: number; reason: string }
  | { type: 'unfrozen'; id: string; at: number }
  | { type: 'bounced'; id: string; at: number; failed: FailedRecipient[] }
  | { type: 'removed'; id: string; at: number }
  | { type: 'recovered'; id: string; at: number; from: 'removed' | 'quarantined' }
  | { type: 'quarantined'; id: string; at: number; reason: string }
  /** A subscriber fell this many events behind and they were dropped. */
  | { type: 'overflow'; at: number; dropped: number };

export type SendWhich = 'all' | 'frozen' | readonly string[];
