import {
  ClaimNotFoundError,
  MessageClaimedError,
  MessageNotClaimedByError,
  MessageNotClaimedError,
  MessageNotFoundError,
  QueueNotFoundError,
} from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';
import type { FinishOutcome, WorkClaim, WorkPost, WorkPostOptions, WorkQueue } from './work-queue.js';

export interface DriverQueueOptions {
  /** The client id messages are posted under (default 'posthorn-worker'). */
  clientId?: string;
}

/**
 * A queue of an in-process DataDriver (disk, memory, Redis, PostgreSQL, a pool) as a WorkQueue.
 * `finish` is the store's fenced delete, so a refusal is decided atomically by the store, not
 * by a read followed by a delete.
 */
export function driverQueue(
  driver: DataDriver,
  project: string,
  name: string,
  options: DriverQueueOptions = {},
): WorkQueue {
  const clientId = options.clientId ?? 'posthorn-worker';
  return {
    name,
    async claim(o): Promise<WorkClaim | null> {
      let claim: Awaited<ReturnType<DataDriver['claims']['create']>>;
      try {
        claim = await driver.claims.create(project, name, o);
      } catch (error) {
        // A queue comes into being with its first message: until then it is just empty.
        if (error instanceof QueueNotFoundError) return null;
        throw error;
      }
      if (claim === null || claim.messages.length === 0) return null;
      return {
        id: claim.id,
        ttl: claim.ttl,
        grace: claim.grace,
        messages: claim.messages.map((m) => ({
          id: m.id,
          body: m.body,
          ttl: m.ttl,
          age: m.age,
          claimCount: m.claimCount,
        })),
      };
    },
    async renew(claimId, o) {
      try {
        await driver.claims.update(project, name, claimId, o);
        return true;
      } catch (error) {
        if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) return false;
        throw error;
      }
    },
    async release(claimId) {
      await driver.claims.delete(project, name, claimId);
    },
    async finishMany(messageIds, claimId): Promise<FinishOutcome[]> {
      // One fenced bulk delete (one journal record, one transaction, one script): the store
      // says which ids the claim still held, atomically with deleting them.
      let deleted: string[];
      try {
        deleted = await driver.messages.bulkDelete(project, name, messageIds, { claimIds: [claimId] });
      } catch (error) {
        if (error instanceof QueueNotFoundError) return messageIds.map(() => 'lease-lost');
        throw error;
      }
      const gone = new Set(deleted);
      return messageIds.map((id) => (gone.delete(id) ? 'deleted' : 'lease-lost'));
    },
    async finish(messageId, claimId): Promise<FinishOutcome> {
      try {
        await driver.messages.delete(project, name, messageId, { claimId, fenced: true });
        return 'deleted';
      } catch (error) {
        if (
          error instanceof MessageNotFoundError ||
          error instanceof MessageNotClaimedByError ||
          error instanceof MessageNotClaimedError ||
          error instanceof MessageClaimedError ||
          error instanceof QueueNotFoundError
        ) {
          return 'lease-lost';
        }
        throw error;
      }
    },
    // The key goes to the store, which remembers it with the post itself: a retry re-posted again
    // after a crash between its post and the original's finish stores nothing the second time.
    async post(messages: WorkPost[], options?: WorkPostOptions) {
      return driver.messages.post(
        project,
        name,
        messages.map((m) => ({
          body: m.body,
          ...(m.ttl === undefined ? {} : { ttl: m.ttl }),
          ...(m.delay === undefined ? {} : { delay: m.delay }),
        })),
        clientId,
        options?.idempotencyKey === undefined ? undefined : { idempotencyKey: options.idempotencyKey },
      );
    },
    async metadata() {
      try {
        return await driver.queues.getMetadata(project, name);
      } catch (error) {
        if (error instanceof QueueNotFoundError) return {};
        throw error;
      }
    },
    sibling(other) {
      return driverQueue(driver, project, other, options);
    },
  };
}
