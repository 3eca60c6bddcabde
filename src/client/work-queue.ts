/**
 * What a Worker needs of a queue, and nothing more: claim a batch, keep the lease, finish each
 * message under its lease, give back what was not started, and post (retries, dead letters).
 * Two things implement it: a queue handle of the HTTP client (`client.queue(name)`) and a
 * queue of an in-process `DataDriver` (`driverQueue(driver, project, name)`), so one Worker
 * runs over both.
 */

/** A message as the Worker sees it. */
export interface WorkMessage {
  id: string;
  body: unknown;
  /** Seconds it lives (a claim may have lengthened it). */
  ttl: number;
  /** Whole seconds since it was posted. */
  age: number;
  /** How many claims have taken it, this one included. */
  claimCount: number;
}

/** A lease on a batch of messages. */
export interface WorkClaim {
  id: string;
  ttl: number;
  grace: number;
  messages: WorkMessage[];
}

export interface WorkClaimOptions {
  /** Seconds the lease lasts. */
  ttl: number;
  /** Seconds a claimed message outlives its lease at least. */
  grace: number;
  /** Most messages to take. */
  limit: number;
}

export interface WorkPost {
  body: unknown;
  ttl?: number;
  /** Seconds before it can be claimed. */
  delay?: number;
}

export interface WorkPostOptions {
  /** A repeat with the same key within the queue's window stores nothing and answers the first ids. */
  idempotencyKey?: string;
}

/** The outcome of finishing one message under a lease. */
export type FinishOutcome = 'deleted' | 'lease-lost';

export interface WorkQueue {
  readonly name: string;
  /** Null when nothing could be claimed. */
  claim(options: WorkClaimOptions): Promise<WorkClaim | null>;
  /** Renews the lease from now; false when the lease is gone (expired or released). */
  renew(claimId: string, options: { ttl: number; grace: number }): Promise<boolean>;
  /** Releases the lease: its messages not finished become free at once. No error when gone. */
  release(claimId: string): Promise<void>;
  /**
   * Deletes the message only while `claimId` still holds it. 'lease-lost' when it does not —
   * the lease expired, another consumer holds it now, or it is gone — and then nothing changes.
   */
  finish(messageId: string, claimId: string): Promise<FinishOutcome>;
  /**
   * `finish` for many messages of one lease, in one store call where the queue can: the
   * outcomes in the order of `messageIds`. Optional so that a WorkQueue written before it still
   * serves; a Worker then finishes one message at a time.
   */
  finishMany?(messageIds: string[], claimId: string): Promise<FinishOutcome[]>;
  post(messages: WorkPost[], options?: WorkPostOptions): Promise<string[]>;
  /** The queue's metadata document (reserved keys such as `_dead_letter_queue` included). */
  metadata(): Promise<Record<string, unknown>>;
  /** Another queue of the same project, e.g. the dead-letter queue. */
  sibling(name: string): WorkQueue;
}
