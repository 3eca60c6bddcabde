import {
  checkInteger,
  GLOBAL_PROJECT,
  InvalidArgumentError,
  type MessageBody,
  NotFoundError,
  type ProjectId,
} from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';

export interface MessageQueueOptions {
  /** Where the queues live; a durable driver (disk, postgres...) keeps them across restarts. */
  driver: DataDriver;
  /** The project the queues belong to; the global project by default. */
  project?: ProjectId;
  /** Keep at most this many messages per queue: adding one more drops the oldest. */
  maxCount?: number;
  /**
   * Drop messages older than this many seconds. Without it a message is kept for the driver's
   * longest message ttl (14 days unless the driver was given other limits).
   */
  maxAgeSeconds?: number;
}

/** Whatever the client id, echo is on: a MessageQueue reads back what it wrote. */
const CLIENT_ID = 'posthorn-message-queue';

/**
 * unidist's `messagequeue` — the simplest named queues — over any storage driver, with the
 * seed's open wishes granted: a queue can be bounded by count and by age (the oldest go), and
 * on a durable driver the queues survive a restart (the driver's own log and snapshots are
 * the "archive and snapshot" the seed asks for).
 *
 * Taking the oldest is atomic on every driver (a pop). Taking the newest is a read then a
 * delete, serialized within this object; two processes taking the newest of one queue at the
 * same instant could both get it, so give newest-takers a queue of their own.
 */
export class MessageQueue {
  private readonly driver: DataDriver;
  private readonly project: ProjectId;
  private readonly maxCount: number | null;
  private readonly ttl: number;
  private newestTaking: Promise<unknown> = Promise.resolve();

  constructor(options: MessageQueueOptions) {
    if (!options || typeof options.driver !== 'object' || options.driver === null) {
      throw new InvalidArgumentError('driver', 'is required');
    }
    this.driver = options.driver;
    this.project = options.project ?? GLOBAL_PROJECT;
    const limits = this.driver.limits;
    this.maxCount =
      options.maxCount === undefined ? null : checkInteger(options.maxCount, 'maxCount', 1, Number.MAX_SAFE_INTEGER);
    this.ttl =
      options.maxAgeSeconds === undefined
        ? limits.maxMessageTtl
        : checkInteger(options.maxAgeSeconds, 'maxAgeSeconds', limits.minMessageTtl, limits.maxMessageTtl);
  }

  /** The number of messages in `queue` (0 when it does not exist). */
  async getMessageCount(queue: string): Promise<number> {
    try {
      return (await this.driver.queues.stats(this.project, queue)).total;
    } catch (error) {
      if (error instanceof NotFoundError) return 0;
      throw error;
    }
  }

  /** Adds `message` at the end of `queue`, creating the queue; returns the message's id. */
  async addMessage(queue: string, message: MessageBody): Promise<string> {
    const [id] = await this.driver.messages.post(this.project, queue, [{ body: message, ttl: this.ttl }], CLIENT_ID);
    if (this.maxCount !== null) await this.trim(queue, this.maxCount);
    return id as string;
  }

  /** The oldest message, taken out of the queue unless `remove` is false; undefined when empty. */
  async getOldest(queue: string, remove = true): Promise<MessageBody | undefined> {
    if (!(await this.driver.queues.exists(this.project, queue))) return undefined;
    if (remove) {
      const [message] = await this.driver.messages.pop(this.project, queue, 1);
      return message?.body;
    }
    return (await this.driver.messages.first(this.project, queue, 'oldest'))?.body;
  }

  /** The newest message, taken out of the queue unless `remove` is false; undefined when empty. */
  async getNewest(queue: string, remove = true): Promise<MessageBody | undefined> {
    if (!(await this.driver.queues.exists(this.project, queue))) return undefined;
    if (!remove) return (await this.driver.messages.first(this.project, queue, 'newest'))?.body;
    const taking = this.newestTaking.then(async () => {
      const newest = await this.driver.messages.first(this.project, queue, 'newest');
      if (!newest) return undefined;
      await this.driver.messages.bulkDelete(this.project, queue, [newest.id]);
      return newest.body;
    });
    this.newestTaking = taking.catch(() => {});
    return taking;
  }

  /** Every message of `queue`, oldest first, for inspection; nothing is removed. */
  async getAllMessages(queue: string): Promise<MessageBody[]> {
    if (!(await this.driver.queues.exists(this.project, queue))) return [];
    const bodies: MessageBody[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.driver.messages.list(this.project, queue, {
        echo: true,
        includeClaimed: true,
        includeDelayed: true,
        limit: this.driver.limits.maxMessagesPerPage,
        ...(marker === undefined ? {} : { marker }),
      });
      if (page.messages.length === 0) return bodies;
      for (const m of page.messages) bodies.push(m.body);
      marker = page.marker ?? undefined;
    }
  }

  /** Whether `queue` exists (it does once a message was added to it). */
  queueExists(queue: string): Promise<boolean> {
    return this.driver.queues.exists(this.project, queue);
  }

  /** Drops the oldest messages until at most `max` are left. */
  private async trim(queue: string, max: number): Promise<void> {
    const chunk = this.driver.limits.maxMessagesPerClaimOrPop;
    for (let excess = (await this.getMessageCount(queue)) - max; excess > 0; ) {
      const dropped = await this.driver.messages.pop(this.project, queue, Math.min(excess, chunk));
      if (dropped.length === 0) return;
      excess -= dropped.length;
    }
  }
}
