/**
 * The Worker's face without the HTTP client: what `posthorn` exports for in-process stores, so
 * importing the embedded library never loads undici.
 */
export type { Backoff, BackoffFunction, ExponentialBackoff } from './backoff.js';
export { backoffDelay } from './backoff.js';
export type { DriverQueueOptions } from './driver-queue.js';
export { driverQueue } from './driver-queue.js';
export type { JobHistory } from './job-envelope.js';
export { ENVELOPE_KEY } from './job-envelope.js';
export { LeaseLostError } from './lease-lost-error.js';
export type {
  FinishOutcome,
  WorkClaim,
  WorkClaimOptions,
  WorkMessage,
  WorkPost,
  WorkPostOptions,
  WorkQueue,
} from './work-queue.js';
export type { Job, JobContext, JobHandler, WorkerEvents, WorkerOptions } from './worker.js';
export { Worker } from './worker.js';
