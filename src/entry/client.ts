/**
 * `posthorn/client`: the Worker, and the queues it runs over — a queue of an in-process store
 * (`driverQueue`) and the HTTP client's queue handles. Loads no HTTP framework (fastify) and no
 * driver of a server (ioredis, pg).
 */

export type {
  Backoff,
  BackoffFunction,
  DriverQueueOptions,
  ExponentialBackoff,
  FinishOutcome,
  Job,
  JobContext,
  JobHandler,
  JobHistory,
  WorkClaim,
  WorkClaimOptions,
  WorkerEvents,
  WorkerOptions,
  WorkMessage,
  WorkPost,
  WorkPostOptions,
  WorkQueue,
} from '../client/index.js';
export { backoffDelay, driverQueue, ENVELOPE_KEY, LeaseLostError, Worker } from '../client/index.js';
export { ClosedError, InvalidArgumentError, PosthornError } from '../core/index.js';
export type * from './shared-types.js';
