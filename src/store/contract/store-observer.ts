/**
 * What a store tells whoever watches it (the server's metrics): a store must not depend on a
 * metrics library, so it calls these plain functions and the server decides what to count. Every
 * one is optional and called synchronously on the store's own path, so each must be cheap and
 * must not throw.
 */
export interface StoreObserver {
  /** A group commit became durable: its fsync took `seconds` and acknowledged `records` records. */
  committed?(seconds: number, records: number): void;
  /** One round trip to a remote store (Redis, PostgreSQL) ended, answered or not. */
  roundTrip?(seconds: number): void;
  /** A claim or pop moved `count` messages of (project, queue) to its dead-letter queue. */
  deadLettered?(project: string, queue: string, count: number): void;
  /** Garbage collection removed `count` expired messages of (project, queue). */
  expired?(project: string, queue: string, count: number): void;
}
