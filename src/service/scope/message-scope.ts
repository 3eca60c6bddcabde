import { InvalidArgumentError, ignoreMissing, type Message, type NewMessage } from '../../core/index.js';
import { checkMessages, type MessagePage, type PostOptions, postFingerprint } from '../../store/contract/index.js';
import { checkCountParameter, postRefusal, readMessagePost } from '../documents.js';
import { apiError, bodyError, MessagesTooLargeError } from '../errors.js';
import { isSealed } from '../message-cipher.js';
import { storeProject } from '../namespaces.js';
import { bodySize } from '../quota-book.js';
import { type PostTerms, postTerms } from '../reserved-metadata.js';
import type { ScopeContext } from './scope-context.js';

export interface ListMessagesQuery {
  marker?: string;
  limit?: number;
  echo?: boolean;
  includeClaimed?: boolean;
  includeDelayed?: boolean;
}

/** What a delete by ids did: the ids deleted, and the others asked (gone, or not held by the claims named), in the order asked, once each. */
export interface MessageDeletion {
  deleted: string[];
  notDeleted: string[];
}

/**
 * The messages of a scope's queues: posting (with its size rule, quotas, sealing and
 * notifications), reading, deleting and popping. Posting to a missing queue creates it; reading
 * a missing queue's messages gives empty answers.
 */
export class MessageScope {
  constructor(private readonly ctx: ScopeContext) {}

  /** What posting to this queue allows and defaults to, from its metadata. */
  async postTerms(project: string, name: string): Promise<PostTerms> {
    return this.ctx.postTerms(project, name);
  }

  /**
   * The post-size rule: MessagesTooLargeError when a post of `bytes` (its messages document, as
   * sent) is over what the queue takes. Transports call it with the size they know before they
   * parse the document — HTTP with the Content-Length, before reading the body.
   */
  async checkPostSize(project: string, name: string, bytes: number): Promise<void> {
    const known = this.ctx.postTerms(project, name);
    const terms = known instanceof Promise ? await known : known;
    if (bytes > terms.maxPostSize) {
      throw new MessagesTooLargeError(terms.maxPostSize, bytes, this.ctx.limits.maxMessagesPostSize);
    }
  }

  /** Posts the messages of a `{"messages": [...]}` document, creating the queue when missing. */
  async post(
    project: string,
    name: string,
    clientId: string,
    document: unknown,
    options?: PostOptions,
  ): Promise<string[]> {
    const { ctx } = this;
    const known = ctx.postTerms(project, name);
    const terms = known instanceof Promise ? await known : known;
    const messages = readMessagePost(document, terms, ctx.settings.checksums);
    const stored = this.sealed(name, messages, terms.encrypt);
    // The store's checks against the service's limits, before anything is charged or written;
    // the driver takes this list as checked.
    try {
      checkMessages(stored, ctx.limits);
    } catch (error) {
      throw postRefusal(error, ctx.limits);
    }
    await ctx.settings.fairShare?.admitMessages(project, messages.length);
    const driver = await ctx.driver(project, name);
    // A repeat the store answers from its key stored nothing: no quota room, no count.
    let replayed = false;
    const postOptions = idempotentPost(options, messages, stored !== messages, () => {
      replayed = true;
    });
    // Before anything is written or spooled: a post over a quota writes nothing, and a batch is
    // reserved whole, so none of it is written either.
    const reserving = ctx.reserve(project, {
      queue: name,
      messages: stored.length,
      bytes: () => stored.reduce((sum, m) => sum + bodySize(m.body), 0),
    });
    const reservation = reserving instanceof Promise ? await reserving : reserving;
    // Subscribers' notifications are spooled while the messages are stored (Zaqar's notifier too
    // runs beside the store, before it), and both are durable before the post is answered. A
    // queue known to have no subscriptions costs nothing here (see Notifier.posted).
    const notified = ctx.settings.notifier?.posted(ctx.kind, project, name, messages);
    const posting = driver.messages.post(storeProject(ctx.kind, project), name, stored, clientId, postOptions);
    if (notified === undefined) {
      const ids = await ctx.quotaBound(reservation, posting, () => replayed);
      if (!replayed) ctx.counters?.posted(project, name, ids.length);
      return ids;
    }
    // Only a failed store write gives the room back: a failed spool leaves the messages stored.
    // A repeat is spooled again (notifications are at least once; the spool cannot wait for the
    // store to say whether it was a repeat without losing them to a crash in between).
    const [ids] = await Promise.all([ctx.quotaBound(reservation, posting, () => replayed), notified]);
    if (!replayed) ctx.counters?.posted(project, name, ids.length);
    return ids;
  }

  /** A page of messages, oldest first; empty for a missing queue or a marker that points nowhere. */
  async list(project: string, name: string, clientId: string, query: ListMessagesQuery = {}): Promise<MessagePage> {
    const { ctx } = this;
    ctx.checkName(name);
    const limit = checkCountParameter(query.limit, 'limit', ctx.limits.maxMessagesPerPage);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const metadata = await ignoreMissing(driver.queues.getMetadata(sp, name), null);
    if (metadata === null) return { messages: [], marker: null };
    // Zaqar filters delayed messages out of listings only in queues that have a default delay.
    const includeDelayed = query.includeDelayed === true || !postTerms(metadata, ctx.limits).hidesDelayed;
    try {
      return await ctx.openPage(
        name,
        ignoreMissing(
          driver.messages.list(sp, name, {
            ...(query.marker !== undefined ? { marker: query.marker } : {}),
            ...(limit !== undefined ? { limit } : {}),
            echo: query.echo === true,
            clientId,
            includeClaimed: query.includeClaimed === true,
            includeDelayed,
          }),
          { messages: [], marker: null },
        ),
      );
    } catch (error) {
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { messages: [], marker: null };
      throw error;
    }
  }

  /** The live messages among `ids`; unknown ones are left out. */
  async bulkGet(project: string, name: string, ids: string[]): Promise<Message[]> {
    const { ctx } = this;
    ctx.checkName(name);
    checkCountParameter(ids.length, 'ids', ctx.limits.maxMessagesPerPage);
    const driver = await ctx.driver(project, name);
    return ctx.opened(
      name,
      await ignoreMissing(driver.messages.bulkGet(storeProject(ctx.kind, project), name, ids), []),
    );
  }

  async get(project: string, name: string, id: string): Promise<Message> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    return ctx.openOne(name, await ctx.translate(name, driver.messages.get(storeProject(ctx.kind, project), name, id)));
  }

  /**
   * Deletes the listed messages, claimed or not, or with `claimIds` only those these live
   * claims hold, in one storage call; says which were deleted. Unknown ones and a missing queue
   * are fine. Zaqar's `message_delete_with_claim_id` refuses ids without claim ids
   * (zaqar/transport/validation.py message_deletion), with its text.
   */
  async bulkDelete(project: string, name: string, ids: string[], claimIds?: string[]): Promise<MessageDeletion> {
    const { ctx } = this;
    ctx.checkName(name);
    checkCountParameter(ids.length, 'ids', ctx.limits.maxMessagesPerPage);
    if (claimIds === undefined && ctx.settings.messageDeleteWithClaimId === true) {
      throw apiError(
        'claim_ids',
        'The request should have both "ids" and "claim_ids" parameter in the request when message_delete_with_claim_id is True.',
      );
    }
    if (claimIds !== undefined) checkCountParameter(claimIds.length, 'claim_ids', ctx.limits.maxMessagesPerPage);
    const driver = await ctx.driver(project, name);
    const options = claimIds === undefined ? undefined : { claimIds };
    const deleted = await ignoreMissing(
      driver.messages.bulkDelete(storeProject(ctx.kind, project), name, ids, options),
      [],
    );
    ctx.quotas?.deleted(project);
    ctx.counters?.deleted(project, name, deleted.length);
    const gone = new Set(deleted);
    return { deleted, notDeleted: [...new Set(ids)].filter((id) => !gone.has(id)) };
  }

  /** Takes and deletes up to `count` of the oldest free messages. */
  async pop(project: string, name: string, count: number): Promise<Message[]> {
    const { ctx } = this;
    ctx.checkName(name);
    checkCountParameter(count, 'pop', ctx.limits.maxMessagesPerClaimOrPop);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const popped = await ignoreMissing(driver.messages.pop(sp, name, count), []);
    if (popped.length > 0) {
      ctx.quotas?.deleted(project);
      ctx.counters?.deleted(project, name, popped.length);
    }
    try {
      return ctx.opened(name, popped);
    } catch (error) {
      // Popping deleted them already: put back what cannot be served (as stored, with the time
      // it had left), so a missing key or a damaged body costs the client an error, not the messages.
      const now = ctx.settings.clock.now();
      for (const m of popped) {
        const ttl = Math.max(ctx.limits.minMessageTtl, Math.ceil((m.expiresAt - now) / 1000));
        const back: NewMessage = { body: m.body, ttl, ...(m.checksum !== undefined ? { checksum: m.checksum } : {}) };
        await driver.messages.post(sp, name, [back], m.clientId);
      }
      throw error;
    }
  }

  /** Deletes one message; a claimed one needs its claim id; fenced, one already gone is an error. */
  async delete(project: string, name: string, id: string, claimId?: string, fenced = false): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    const options = { ...(claimId === undefined ? {} : { claimId }), ...(fenced ? { fenced } : {}) };
    await ctx.translate(name, driver.messages.delete(storeProject(ctx.kind, project), name, id, options));
    ctx.quotas?.deleted(project);
    ctx.counters?.deleted(project, name, 1);
  }

  /** What the store is given: the messages with sealed bodies when the queue encrypts. */
  private sealed(name: string, messages: NewMessage[], encrypt: boolean): NewMessage[] {
    if (encrypt) return messages.map((m) => ({ ...m, body: this.ctx.cipher.seal(m.body, name) }));
    for (let i = 0; i < messages.length; i++) {
      // A plain byte body that looks like an envelope would be read back as one: refuse it.
      if (isSealed(messages[i]?.body)) {
        throw bodyError(
          `messages[${i}].body`,
          `Message ${i}'s body starts with bytes Posthorn reserves for encrypted bodies.`,
        );
      }
    }
    return messages;
  }
}

/**
 * The store's post options for a post with an idempotency key. When the bodies were sealed (a
 * fresh IV each time), the key is bound to the fingerprint of what the client sent, so a
 * repeat matches its first post and is not taken for another.
 */
function idempotentPost(
  options: PostOptions | undefined,
  sent: NewMessage[],
  sealed: boolean,
  onReplay: () => void,
): PostOptions | undefined {
  if (options?.idempotencyKey === undefined) return undefined;
  if (!sealed) return { idempotencyKey: options.idempotencyKey, onReplay };
  const fingerprint = postFingerprint(sent.map((m) => ({ body: m.body, ttl: m.ttl ?? 0, delay: m.delay ?? 0 })));
  return { idempotencyKey: options.idempotencyKey, fingerprint, onReplay };
}
