/**
 * The delivery Spool (async_smtp's Spool with slimta's relay-queue semantics).
 *
 * Why over Multispool and not over the store contract: a spool of mail is something operators
 * look into and act on with files — one metadata file per message in a folder named after its
 * state (active, frozen, removed, quarantine), the envelope beside it — as they do with Postfix's
 * queue folders. One file per message also lets another process (the `posthorn spool` command)
 * freeze, send, remove or recover a message while a spool runs, safely, because every change
 * is a Multispool checkout by rename; and a message's per-recipient results are rewritten in
 * a small file on each attempt while the large envelope is written once. The store contract is
 * for queues of many small messages claimed by consumers; a spool wants per-message state
 * machines, and the Multispool gives exactly that.
 */

export { DEFAULT_RETRY_INTERVALS } from './attempt-policy.js';
export { formatDuration, parseIntervals } from './durations.js';
export {
  describeMessage,
  MESSAGE_ID_PATTERN,
  type MessageMeta,
  SPOOL_QUEUES,
  type SpoolQueue,
} from './message-metadata.js';
export { type SmtpDeliveryOptions, type SmtpHop, smtpDelivery } from './smtp-delivery.js';
export { Spool } from './spool.js';
export { type Changed, type Located, SpoolFolder } from './spool-folder.js';
export type { SpoolOptions } from './spool-options.js';
export { freezeMeta, quarantineMeta, recoverMeta, removeMeta, sendMeta } from './transitions.js';
export type {
  Bounce,
  BounceHook,
  DeliveryFunction,
  DeliveryJob,
  DeliveryReport,
  FailedRecipient,
  MessageState,
  RecipientInfo,
  RecipientOutcome,
  Section,
  SendWhich,
  SpoolEvent,
  SpooledMessageInfo,
  SpoolStatus,
} from './types.js';
