import { QueueNotFoundError } from './errors.js';

/**
 * The answer of `operation`, or `fallback` when its queue is not in that store: for the many
 * callers to whom a missing queue is an ordinary answer (an empty page, no metadata). A pool holds
 * only some queues (a moving queue is in two, briefly in one of them only), and the management
 * store keeps each record as a queue, so this is common throughout pooling.
 */
export async function ignoreMissing<T, F>(operation: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof QueueNotFoundError) return fallback;
    throw error;
  }
}
