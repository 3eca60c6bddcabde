/*
 * Who checks what (the service's half is at the top of service/documents.ts): this guard owns the
 * values every driver must refuse alike, whoever calls it — names, ids, options, and of a post
 * each message's body (plain JSON or bytes, at most 100 levels deep), ttl and delay ranges and
 * checksum. The service owns the wire document and the per-queue rules; it has a post's messages
 * checked by checkMessages() against its own limits before it writes anything else, and a list
 * checked so (against ranges within this store's) is not checked again here: once per post.
 */
import {
  ClosedError,
  checkBoolean,
  checkCount,
  checkIdList,
  checkInteger,
  checkJsonValue,
  checkMessageBody,
  checkNonEmptyString,
  checkProject,
  checkQueueMetadata,
  checkQueueName,
  checkString,
  describe,
  InvalidArgumentError,
  isMessageBody,
  isPlainObject,
  type Limits,
  MessageNotFoundError,
  type NewMessage,
  StorageFullError,
} from '../../core/index.js';
import type {
  ClaimController,
  DataDriver,
  MessageController,
  QueueController,
  SubscriptionController,
} from './driver.js';
import type { IdempotentPost, MessageDraft, StoreEngine } from './engine.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, postFingerprint } from './semantics.js';

/** Longest subscriber URI a store keeps (Zaqar keeps no bound; this keeps records small). */
export const MAX_SUBSCRIBER_LENGTH = 2048;
/** A fingerprint given by a layer above the store: a hex digest, room for SHA-512. */
const MAX_FINGERPRINT_LENGTH = 128;

/**
 * Lists of messages checkMessages() passed, with the limits they were checked against. The
 * service checks a post against its own limits before it writes anything else (quota room,
 * notifications), and the guard then takes the list as checked instead of checking it twice. A
 * list nobody checked, or one checked against wider ranges than this store's, is checked here.
 */
const checkedLists = new WeakMap<readonly NewMessage[], Limits>();

/**
 * Checks messages to post as every driver's `messages.post` does (a typed error naming the
 * field), for a caller that must refuse them before it writes anything else. The list is frozen,
 * so what was checked is what is posted; changing one of its messages afterwards is on the caller.
 */
export function checkMessages(list: readonly NewMessage[], limits: Limits): void {
  checkList(list, limits);
  checkedLists.set(Object.freeze(list), limits);
}

/** Whether `list` was checked against ranges within this store's: what they let in, it takes. */
function isChecked(list: readonly NewMessage[], limits: Limits): boolean {
  const by = checkedLists.get(list);
  return (
    by === limits ||
    (by !== undefined &&
      by.minMessageTtl >= limits.minMessageTtl &&
      by.maxMessageTtl <= limits.maxMessageTtl &&
      by.minMessageDelay >= limits.minMessageDelay &&
      by.maxMessageDelay <= limits.maxMessageDelay)
  );
}

function checkList(list: unknown, limits: Limits): asserts list is NewMessage[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError('messages', `must be an array, not ${describe(list)}`);
  if (list.length === 0) throw new InvalidArgumentError('messages', 'must hold at least one message');
  for (let i = 0; i < list.length; i++) checkMessage(list[i], i, limits);
}

/** Whether `value` is an integer in min..max, or undefined (the default applies). */
function absentOrIn(value: unknown, min: number, max: number): boolean {
  return value === undefined || (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max);
}

/**
 * Checks one message to post. Field names are built only once something is wrong, to name it:
 * this runs for every message posted, and naming every good field cost more than checking it.
 */
function checkMessage(value: unknown, index: number, limits: Limits): void {
  if (
    isPlainObject(value) &&
    isMessageBody(value.body) &&
    absentOrIn(value.ttl, limits.minMessageTtl, limits.maxMessageTtl) &&
    absentOrIn(value.delay, limits.minMessageDelay, limits.maxMessageDelay) &&
    (value.checksum === undefined ||
      (typeof value.checksum === 'string' && value.checksum.length > 0 && value.checksum.length <= 256))
  ) {
    return;
  }
  const field = `messages[${index}]`;
  if (!isPlainObject(value)) throw new InvalidArgumentError(field, `must be an object, not ${describe(value)}`);
  checkMessageBody(value.body, `${field}.body`);
  if (value.ttl !== undefined) checkInteger(value.ttl, `${field}.ttl`, limits.minMessageTtl, limits.maxMessageTtl);
  if (value.delay !== undefined) {
    checkInteger(value.delay, `${field}.delay`, limits.minMessageDelay, limits.maxMessageDelay);
  }
  if (value.checksum !== undefined) checkNonEmptyString(value.checksum, `${field}.checksum`, 256);
}

/**
 * Turns a StoreEngine into a DataDriver: every argument is checked against `limits` (a typed
 * error naming the field, before anything is written), defaults are filled in, and calls after
 * close() are refused. Every driver is built through here, so they all refuse the same input.
 */
export function createDataDriver(engine: StoreEngine, limits: Limits): DataDriver {
  let closed = false;
  let closing: Promise<void> | undefined;

  // Set when a write fails because the store's disk (or memory) is full, cleared by the next
  // write that succeeds: readiness and health say "full", not just "down", while it holds.
  let full = false;
  const writing = async <T>(run: Promise<T>): Promise<T> => {
    try {
      const result = await run;
      full = false;
      return result;
    } catch (error) {
      if (error instanceof StorageFullError) full = true;
      throw error;
    }
  };

  const open = (): void => {
    if (closed) throw new ClosedError(`${engine.kind} store`);
  };
  const scope = (project: unknown, queue: unknown): void => {
    open();
    checkProject(project, limits);
    checkQueueName(queue, limits);
  };
  const options = <T extends object>(value: T | undefined, field: string): Partial<T> => {
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InvalidArgumentError(field, `must be an object, not ${describe(value)}`);
    }
    return value;
  };
  const optionalMarker = (value: unknown): string | null =>
    value === undefined || value === null ? null : checkNonEmptyString(value, 'marker', 256);

  const queues: QueueController = {
    async create(project, queue, metadata = {}) {
      scope(project, queue);
      return writing(engine.createQueue(project, queue, checkQueueMetadata(metadata, limits)));
    },
    async exists(project, queue) {
      scope(project, queue);
      return engine.queueExists(project, queue);
    },
    async getMetadata(project, queue) {
      scope(project, queue);
      return engine.getQueueMetadata(project, queue);
    },
    async setMetadata(project, queue, metadata) {
      scope(project, queue);
      return writing(engine.setQueueMetadata(project, queue, checkQueueMetadata(metadata, limits)));
    },
    async delete(project, queue) {
      scope(project, queue);
      return engine.deleteQueue(project, queue);
    },
    async list(project, listOptions) {
      open();
      checkProject(project, limits);
      const o = options(listOptions, 'options');
      let filter: Record<string, unknown> | null = null;
      if (o.filter !== undefined) {
        if (!isPlainObject(o.filter))
          throw new InvalidArgumentError('filter', `must be an object, not ${describe(o.filter)}`);
        checkJsonValue(o.filter, 'filter');
        filter = Object.keys(o.filter).length > 0 ? o.filter : null;
      }
      return engine.listQueues(project, {
        marker: optionalMarker(o.marker),
        limit: o.limit === undefined ? limits.defaultPageSize : checkCount(o.limit, 'limit', limits.maxQueuesPerPage),
        detailed: o.detailed === undefined ? false : checkBoolean(o.detailed, 'detailed'),
        name: o.name === undefined || o.name === '' ? null : checkString(o.name, 'name', limits.maxQueueNameLength),
        filter,
        withCount: o.withCount === undefined ? false : checkBoolean(o.withCount, 'withCount'),
      });
    },
    async stats(project, queue) {
      scope(project, queue);
      return engine.queueStats(project, queue);
    },
  };

  // What the engine stores of a checked message: its defaults filled in.
  const messageDraft = (message: NewMessage): MessageDraft => ({
    body: message.body,
    ttl: message.ttl ?? limits.defaultMessageTtl,
    delay: message.delay ?? limits.defaultMessageDelay,
    checksum: message.checksum ?? null,
  });

  // Printable ASCII only, as an HTTP header carries it: every store keeps it as it is, and a
  // key cannot differ from another by an invisible character.
  const idempotencyKey = (value: unknown): string => {
    const key = checkNonEmptyString(value, 'idempotencyKey', MAX_IDEMPOTENCY_KEY_LENGTH);
    if (!/^[\x20-\x7e]+$/.test(key)) {
      throw new InvalidArgumentError('idempotencyKey', 'must be printable ASCII (characters 0x20 to 0x7E)');
    }
    return key;
  };

  const messages: MessageController = {
    async post(project, queue, list, clientId, postOptions) {
      scope(project, queue);
      if (!isChecked(list, limits)) checkList(list, limits);
      const drafts = list.map(messageDraft);
      const client = checkString(clientId, 'clientId', 256);
      const o = options(postOptions, 'options');
      let idempotency: IdempotentPost | null = null;
      if (o.idempotencyKey !== undefined) {
        idempotency = {
          key: idempotencyKey(o.idempotencyKey),
          fingerprint:
            o.fingerprint === undefined
              ? postFingerprint(drafts)
              : checkNonEmptyString(o.fingerprint, 'fingerprint', MAX_FINGERPRINT_LENGTH),
          replayed: typeof o.onReplay === 'function' ? o.onReplay : () => {},
        };
      }
      return writing(engine.postMessages(project, queue, drafts, client, idempotency));
    },
    async list(project, queue, listOptions) {
      scope(project, queue);
      const o = options(listOptions, 'options');
      return engine.listMessages(project, queue, {
        marker: optionalMarker(o.marker),
        limit: o.limit === undefined ? limits.defaultPageSize : checkCount(o.limit, 'limit', limits.maxMessagesPerPage),
        echo: o.echo === undefined ? false : checkBoolean(o.echo, 'echo'),
        clientId: o.clientId === undefined ? null : checkString(o.clientId, 'clientId', 256),
        includeClaimed: o.includeClaimed === undefined ? false : checkBoolean(o.includeClaimed, 'includeClaimed'),
        includeDelayed: o.includeDelayed === undefined ? false : checkBoolean(o.includeDelayed, 'includeDelayed'),
      });
    },
    async first(project, queue, end = 'oldest') {
      scope(project, queue);
      if (end !== 'oldest' && end !== 'newest') throw new InvalidArgumentError('end', 'must be "oldest" or "newest"');
      return engine.firstMessage(project, queue, end);
    },
    async get(project, queue, id) {
      scope(project, queue);
      return engine.getMessage(project, queue, checkNonEmptyString(id, 'id', 256));
    },
    async bulkGet(project, queue, ids) {
      scope(project, queue);
      return engine.bulkGetMessages(project, queue, checkIdList(ids, 'ids', limits.maxMessagesPerPage));
    },
    async delete(project, queue, id, deleteOptions) {
      scope(project, queue);
      checkNonEmptyString(id, 'id', 256);
      const o = options(deleteOptions, 'options');
      const claimId =
        o.claimId === undefined || o.claimId === null ? null : checkNonEmptyString(o.claimId, 'claimId', 256);
      const fenced = o.fenced === undefined ? false : checkBoolean(o.fenced, 'fenced');
      const deleted = await engine.deleteMessage(project, queue, id, claimId);
      // The engine's answer is atomic with the delete, so "nothing there" cannot race a re-post.
      if (fenced && !deleted) throw new MessageNotFoundError(queue, id);
    },
    async bulkDelete(project, queue, ids, deleteOptions) {
      scope(project, queue);
      checkIdList(ids, 'ids', limits.maxMessagesPerPage);
      const o = options(deleteOptions, 'options');
      const claimIds =
        o.claimIds === undefined || o.claimIds === null
          ? null
          : checkIdList(o.claimIds, 'claimIds', limits.maxMessagesPerPage);
      return engine.bulkDeleteMessages(project, queue, ids, claimIds);
    },
    async pop(project, queue, limit) {
      scope(project, queue);
      return engine.popMessages(project, queue, checkCount(limit, 'limit', limits.maxMessagesPerClaimOrPop));
    },
  };

  const claimTtl = (value: unknown): number =>
    value === undefined ? limits.defaultClaimTtl : checkInteger(value, 'ttl', limits.minClaimTtl, limits.maxClaimTtl);
  const claimGrace = (value: unknown): number =>
    value === undefined
      ? limits.defaultClaimGrace
      : checkInteger(value, 'grace', limits.minClaimGrace, limits.maxClaimGrace);

  const claims: ClaimController = {
    async create(project, queue, claimOptions) {
      scope(project, queue);
      const o = options(claimOptions, 'options');
      return engine.createClaim(project, queue, {
        ttl: claimTtl(o.ttl),
        grace: claimGrace(o.grace),
        limit:
          o.limit === undefined
            ? limits.defaultClaimLimit
            : checkCount(o.limit, 'limit', limits.maxMessagesPerClaimOrPop),
      });
    },
    async get(project, queue, claimId) {
      scope(project, queue);
      return engine.getClaim(project, queue, checkNonEmptyString(claimId, 'claimId', 256));
    },
    async update(project, queue, claimId, claimOptions) {
      scope(project, queue);
      checkNonEmptyString(claimId, 'claimId', 256);
      const o = options(claimOptions, 'options');
      return engine.updateClaim(project, queue, claimId, { ttl: claimTtl(o.ttl), grace: claimGrace(o.grace) });
    },
    async delete(project, queue, claimId) {
      scope(project, queue);
      return engine.deleteClaim(project, queue, checkNonEmptyString(claimId, 'claimId', 256));
    },
  };

  const subscriptionTtl = (value: unknown): number =>
    checkInteger(value, 'ttl', limits.minSubscriptionTtl, limits.maxSubscriptionTtl);
  const subscriptionOptions = (value: unknown): Record<string, unknown> => {
    if (!isPlainObject(value)) throw new InvalidArgumentError('options', `must be an object, not ${describe(value)}`);
    checkJsonValue(value, 'options');
    return value;
  };
  const subscriber = (value: unknown): string => checkNonEmptyString(value, 'subscriber', MAX_SUBSCRIBER_LENGTH);

  const subscriptions: SubscriptionController = {
    async create(project, queue, subscriberUri, createOptions) {
      scope(project, queue);
      const o = options(createOptions, 'options');
      return engine.createSubscription(project, queue, {
        subscriber: subscriber(subscriberUri),
        ttl: o.ttl === undefined ? limits.defaultSubscriptionTtl : subscriptionTtl(o.ttl),
        options: o.options === undefined ? {} : subscriptionOptions(o.options),
      });
    },
    async list(project, queue, listOptions) {
      scope(project, queue);
      const o = options(listOptions, 'options');
      return engine.listSubscriptions(project, queue, {
        marker: optionalMarker(o.marker),
        limit:
          o.limit === undefined ? limits.defaultPageSize : checkCount(o.limit, 'limit', limits.maxSubscriptionsPerPage),
      });
    },
    async get(project, queue, id) {
      scope(project, queue);
      return engine.getSubscription(project, queue, checkNonEmptyString(id, 'id', 256));
    },
    async getBySubscriber(project, queue, subscriberUri) {
      scope(project, queue);
      return engine.getSubscriptionBySubscriber(project, queue, subscriber(subscriberUri));
    },
    async exists(project, queue, id) {
      scope(project, queue);
      return engine.subscriptionExists(project, queue, checkNonEmptyString(id, 'id', 256));
    },
    async update(project, queue, id, changes) {
      scope(project, queue);
      checkNonEmptyString(id, 'id', 256);
      if (!isPlainObject(changes))
        throw new InvalidArgumentError('changes', `must be an object, not ${describe(changes)}`);
      const checked: { subscriber?: string; ttl?: number; options?: Record<string, unknown> } = {};
      for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        if (key === 'subscriber') checked.subscriber = subscriber(value);
        else if (key === 'ttl') checked.ttl = subscriptionTtl(value);
        else if (key === 'options') checked.options = subscriptionOptions(value);
        else throw new InvalidArgumentError(`changes.${key}`, 'is not a field of a subscription that can change');
      }
      return engine.updateSubscription(project, queue, id, checked);
    },
    async delete(project, queue, id) {
      scope(project, queue);
      return engine.deleteSubscription(project, queue, checkNonEmptyString(id, 'id', 256));
    },
    async confirm(project, queue, id, confirmed) {
      scope(project, queue);
      checkNonEmptyString(id, 'id', 256);
      return engine.confirmSubscription(project, queue, id, checkBoolean(confirmed, 'confirmed'));
    },
  };

  return {
    kind: engine.kind,
    capabilities: engine.capabilities,
    limits,
    queues,
    messages,
    claims,
    subscriptions,
    async isAlive() {
      if (closed) return false;
      try {
        return await engine.isAlive();
      } catch {
        return false;
      }
    },
    isFull() {
      return full && !closed;
    },
    async gc() {
      open();
      return engine.gc();
    },
    close() {
      closed = true;
      closing ??= engine.close();
      return closing;
    },
  };
}
