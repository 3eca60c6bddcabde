import {
  CorruptDataError,
  PosthornError,
  ResourceConflictError,
  ResourceNotFoundError,
  type SpooledEnvelope,
} from '../core/index.js';
import {
  type EntryDecision,
  Multispool,
  NewerMetadataError,
  type Spoolable,
  type SpoolLog,
} from '../multispool/index.js';
import { envelopeCodec } from './envelope-codec.js';
import {
  MESSAGE_ID_PATTERN,
  type MessageMeta,
  messageMetaCodec,
  queueOf,
  SPOOL_QUEUES,
  type SpoolQueue,
} from './message-metadata.js';

/** How many times locate looks for a message before it takes it for gone (see locate). */
const LOOKS = 3;

export const spoolSpoolable: Spoolable<MessageMeta, SpooledEnvelope, SpoolQueue> = {
  queues: SPOOL_QUEUES,
  metadata: messageMetaCodec,
  data: envelopeCodec,
};

export interface Located {
  queue: SpoolQueue;
  meta: MessageMeta;
}

export interface Changed {
  before: MessageMeta;
  /** null when the message was deleted. */
  after: MessageMeta | null;
  from: SpoolQueue;
}

const CHANGE_ATTEMPTS = 3;

function busy(id: string): ResourceConflictError {
  return new ResourceConflictError('spool message', id, 'is being delivered or changed by another process; try again');
}

/**
 * A delivery spool's folder as files: what both the running Spool and the `posthorn spool`
 * command (another process, without the lock) do to messages on disk. Every change goes
 * through a Multispool checkout, so the two never step on each other: whoever renames first
 * acts, the other hears "busy" or "moved".
 */
export class SpoolFolder {
  private constructor(
    readonly multispool: Multispool<MessageMeta, SpooledEnvelope, SpoolQueue>,
    private readonly log: SpoolLog,
  ) {}

  static async open(dir: string, options: { createIfMissing?: boolean; log: SpoolLog }): Promise<SpoolFolder> {
    const multispool = await Multispool.load(dir, spoolSpoolable, {
      createIfMissing: options.createIfMissing ?? false,
      log: options.log,
    });
    return new SpoolFolder(multispool, options.log);
  }

  get dir(): string {
    return this.multispool.dir;
  }

  /** Writes a new message (its id is its entry name) into the queue its status says, durably. */
  async write(meta: MessageMeta, envelope: SpooledEnvelope): Promise<void> {
    await this.multispool.enqueue(queueOf(meta.status), meta, envelope, { use: meta.id });
  }

  /** Deletes a message that was just written (a multi-section add that failed half way). */
  async discard(meta: MessageMeta): Promise<void> {
    await this.multispool.withEntryOrNotFound(this.multispool.entry(queueOf(meta.status), meta.id), () => [
      'remove',
      null,
    ]);
  }

  /**
   * Where a message is and its metadata; 'busy' while some process has it checked out
   * (delivering, or an operator's change in flight); null when it is in no queue.
   *
   * One look at the queues and then at the checkouts can miss a message that is moving: it is
   * checked out while the queues are read and given back before the checkouts are, so it is in
   * neither when each is looked at. Taken for gone, it was forgotten and then found again with no
   * event said (an operator's unfreeze from another process came out as a delivery with no
   * `unfrozen`). A message in motion is found by a second look; only one that no look finds is
   * gone (a look whose message moved twice meanwhile is what LOOKS bounds).
   */
  async locate(id: string): Promise<Located | 'busy' | null> {
    for (let look = 0; look < LOOKS; look++) {
      const found = await this.lookOnce(id);
      if (found !== null) return found;
    }
    return null;
  }

  private async lookOnce(id: string): Promise<Located | 'busy' | null> {
    for (const queue of SPOOL_QUEUES) {
      try {
        return { queue, meta: await this.multispool.entry(queue, id).metadata() };
      } catch (error) {
        if (error instanceof ResourceNotFoundError) continue;
        if (error instanceof CorruptDataError && !(error instanceof NewerMetadataError)) {
          const rebuilt = await this.quarantineCorrupt(queue, id);
          if (rebuilt) return { queue: 'quarantine', meta: rebuilt };
          continue;
        }
        throw error;
      }
    }
    for (const queue of SPOOL_QUEUES) {
      if ((await this.multispool.listCheckouts(queue)).some((c) => c.name === id)) return 'busy';
    }
    return null;
  }

  /** Every message in the given queues with its metadata. Corrupt ones are quarantined (see quarantineCorrupt). */
  async readAll(queues: readonly SpoolQueue[] = SPOOL_QUEUES): Promise<Located[]> {
    const out: Located[] = [];
    for (const queue of queues) {
      for (const entry of await this.multispool.list(queue)) {
        try {
          out.push({ queue, meta: await entry.metadata() });
        } catch (error) {
          if (error instanceof ResourceNotFoundError) continue; // moved meanwhile
          if (error instanceof NewerMetadataError) {
            this.log('warn', 'a spooled message written by a newer release is left alone', {
              spool: this.dir,
              queue,
              name: entry.name,
            });
            continue;
          }
          if (!(error instanceof CorruptDataError)) throw error;
          const rebuilt = await this.quarantineCorrupt(queue, entry.name);
          if (rebuilt) out.push({ queue: 'quarantine', meta: rebuilt });
        }
      }
    }
    return out;
  }

  /**
   * Applies `decide` to a message's metadata under a checkout and saves the result in the queue
   * its status names ('delete' removes the message for good). Resolves 'not-found' when the
   * message is in no queue; ResourceConflictError when another process holds it.
   */
  async change(
    id: string,
    decide: (meta: MessageMeta, queue: SpoolQueue) => MessageMeta | 'delete',
  ): Promise<Changed | 'not-found'> {
    for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
      const found = await this.locate(id);
      if (found === null) return 'not-found';
      if (found === 'busy') throw busy(id);
      const { queue } = found;
      const done = await this.multispool.withEntryOrNotFound<Changed>(
        this.multispool.entry(queue, id),
        (meta): [EntryDecision<MessageMeta, SpoolQueue>, Changed] => {
          const next = decide(meta, queue);
          if (next === 'delete') return ['remove', { before: meta, after: null, from: queue }];
          return [{ save: [next, queueOf(next.status)] }, { before: meta, after: next, from: queue }];
        },
      );
      if (done !== 'not-found') return done.ok;
      // Moved between locate and checkout: look again.
    }
    throw new ResourceConflictError('spool message', id, 'keeps moving; try again');
  }

  /**
   * Throws what would refuse `changeAll(ids, transition)` now: an id that is not here, a message
   * another process holds, a state `transition` does not accept. (For a change across several
   * folders, checked in all before any is changed.)
   */
  async checkAll(ids: readonly string[], transition: (meta: MessageMeta) => MessageMeta): Promise<void> {
    for (const id of ids) {
      const found = await this.locate(id);
      if (found === null) throw new ResourceNotFoundError('spool message', id);
      if (found === 'busy') throw busy(id);
      transition(found.meta); // throws when the message's state does not allow it
    }
  }

  /**
   * An operator's change to several messages: every id is checked first (known, not held by
   * another process, in a state `transition` accepts), so a bad request changes nothing; then
   * each is changed. A message taken by another process in between is reported in `failed`.
   */
  async changeAll(
    ids: readonly string[],
    transition: (meta: MessageMeta) => MessageMeta,
  ): Promise<{ done: Changed[]; failed: { id: string; error: PosthornError }[] }> {
    await this.checkAll(ids, transition);
    const done: Changed[] = [];
    const failed: { id: string; error: PosthornError }[] = [];
    for (const id of ids) {
      try {
        const changed = await this.change(id, transition);
        if (changed === 'not-found') failed.push({ id, error: new ResourceNotFoundError('spool message', id) });
        else done.push(changed);
      } catch (error) {
        if (!(error instanceof PosthornError)) throw error;
        failed.push({ id, error });
      }
    }
    return { done, failed };
  }

  /** The true number of messages waiting or frozen, read from disk (including those being delivered). */
  async countFromDisk(): Promise<number> {
    let count = 0;
    for (const queue of ['active', 'frozen'] as const) {
      count += (await this.multispool.list(queue)).length;
      count += (await this.multispool.listCheckouts(queue)).length;
    }
    return count;
  }

  /** Names in a queue's folder now (cheap: no metadata read). */
  async names(queue: SpoolQueue): Promise<string[]> {
    return (await this.multispool.list(queue)).map((entry) => entry.name);
  }

  /**
   * A message whose metadata cannot be read is checked out (which moves the file to
   * `.corrupt/`, logged) and, when its data still reads, put in quarantine with metadata rebuilt
   * from the envelope: every recipient pending, the reason saying what was lost. An operator
   * sees it in `posthorn spool status` and can recover it. Resolves null when it cannot be rebuilt.
   */
  async quarantineCorrupt(queue: SpoolQueue, id: string, already?: CorruptDataError): Promise<MessageMeta | null> {
    let reason = already;
    if (!reason) {
      try {
        const taken = await this.multispool.checkoutOrNotFound(this.multispool.entry(queue, id));
        if (taken !== 'not-found') await taken.release(); // it reads after all
        return null;
      } catch (error) {
        if (!(error instanceof CorruptDataError) || error instanceof NewerMetadataError) throw error;
        reason = error;
      }
    }
    if (!MESSAGE_ID_PATTERN.test(id)) return null;
    let envelope: SpooledEnvelope;
    try {
      envelope = await this.multispool.entry(queue, id).dataFile.read();
    } catch (error) {
      this.log('error', 'a spooled message lost its metadata and its data does not read; it stays in .corrupt', {
        spool: this.dir,
        id,
        error: (error as Error).message,
      });
      return null;
    }
    const now = Date.now();
    const meta: MessageMeta = {
      id,
      parentId: id.slice(0, id.indexOf('-')),
      sender: envelope.sender,
      spooledAt: now,
      nextHop: null,
      status: 'quarantined',
      nextAttemptAt: null,
      retryIntervals: [],
      attempts: 0,
      lastAttemptAt: null,
      lastError: null,
      recipients: envelope.recipients.map((address) => ({ address, state: 'pending', reason: null, at: null })),
      frozenReason: null,
      quarantineReason: `metadata unreadable (${reason.message}); rebuilt from the envelope, next hop and per-recipient results lost`,
    };
    try {
      await this.multispool.reinstate('quarantine', id, meta);
    } catch (error) {
      if (error instanceof ResourceConflictError || error instanceof ResourceNotFoundError) return null;
      throw error;
    }
    this.log('warn', 'a spooled message with unreadable metadata was quarantined', {
      spool: this.dir,
      id,
      from: queue,
    });
    return meta;
  }
}
