import {
  type Clock,
  isPlainObject,
  type Limits,
  type Message,
  MessageNotFoundError,
  QuotaExceededError,
  RESERVED_METADATA,
  ResourceConflictError,
} from '../core/index.js';
import { apiError, bodyError } from './errors.js';
import { bodySize, type QuotaBook } from './quota-book.js';
import type { ResourceScope } from './scope/index.js';

/** Most messages one redrive request moves; `more` in the answer says some were left. */
export const MAX_REDRIVE_MESSAGES = 10_000;

/** What a redrive asks for: every message of the dead-letter queue, or the named ones. */
export interface RedriveRequest {
  ids?: string[];
}

/** What a redrive works with: the queue service's parts. */
export interface RedriveContext {
  queues: ResourceScope;
  /** The project quotas; null: none apply. */
  quotas: QuotaBook | null;
  limits: Limits;
  clock: Clock;
}

export interface RedriveResult {
  queue: string;
  deadLetterQueue: string;
  /** Each moved message: its id in the dead-letter queue and its new id in the queue. */
  moved: { from: string; to: string }[];
  /** True when the dead-letter queue had more than MAX_REDRIVE_MESSAGES: call again. */
  more: boolean;
}

/** Reads a redrive request body: `{}`, nothing, or `{"ids": [...]}` (1 to max_messages_per_page ids). */
export function readRedriveRequest(document: unknown, maxIds: number): RedriveRequest {
  if (document === undefined || document === null) return {};
  if (!isPlainObject(document)) throw bodyError('body', 'A redrive request must be a JSON object.');
  for (const key of Object.keys(document)) {
    if (key !== 'ids') throw bodyError(key, `${JSON.stringify(key)} is not a field of a redrive request (known: ids).`);
  }
  const ids = document.ids;
  if (ids === undefined) return {};
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
    throw bodyError('ids', 'The "ids" field must be a list of message ids.');
  }
  if (ids.length === 0 || ids.length > maxIds) {
    throw apiError('ids', `A redrive names 1 to ${maxIds} message ids (or none, for every dead letter).`);
  }
  return { ids: [...new Set(ids as string[])] };
}

/**
 * Redrive: moves messages from a queue's dead-letter queue (its `_dead_letter_queue`) back into
 * the queue, as RabbitMQ's shovel and SQS's redrive do, through the service calls any client
 * uses — so quotas, encryption, checksums and notifications apply as to a post.
 *
 * Safety over speed: each batch is posted to the queue before it is deleted from the dead-letter
 * queue, so a message is never lost; a crash between the two leaves it in both (a duplicate,
 * which at-least-once delivery allows). A batch is one post, atomic where the store's post is.
 * Everything that can refuse the request (no dead-letter queue, an unknown or claimed id, the
 * project's quota, the queue's size limit) is checked for the whole request before the first
 * message moves. Claimed dead letters are left where they are: someone is looking at them.
 * What cannot be known before (a store failing, or the project's fair share running out between
 * batches) stops the redrive after the batches already moved: none is lost, and repeating the
 * request moves the rest.
 */
export async function redrive(
  { queues, quotas, limits, clock }: RedriveContext,
  project: string,
  name: string,
  request: RedriveRequest,
): Promise<RedriveResult> {
  // A missing queue is a 404 (QueueNotFoundError), as its metadata's GET answers.
  const metadata = await queues.get(project, name);
  const dlq = metadata[RESERVED_METADATA.deadLetterQueue];
  if (typeof dlq !== 'string' || dlq === '') {
    throw apiError(
      RESERVED_METADATA.deadLetterQueue,
      `Queue ${name} has no dead-letter queue (its metadata sets no ${RESERVED_METADATA.deadLetterQueue}): there is nothing to redrive.`,
    );
  }
  const perPost = limits.maxMessagesPerPage;
  const { messages, more } = request.ids
    ? { messages: await named(queues, project, dlq, request.ids), more: false }
    : await everyFree(queues, project, dlq, perPost);
  const result: RedriveResult = { queue: name, deadLetterQueue: dlq, moved: [], more };
  if (messages.length === 0) return result;

  const terms = await queues.postTerms(project, name);
  const batches = batchesOf(messages, perPost, terms.maxPostSize, name);
  if (quotas !== null) await checkQuota(quotas, project, messages);

  for (const batch of batches) {
    const at = clock.now();
    const document = {
      messages: batch.map((m) => ({
        body: m.body,
        // The time it had left, not a new lifetime: a redriven message expires when it would have.
        ttl: Math.min(limits.maxMessageTtl, Math.max(limits.minMessageTtl, Math.ceil((m.expiresAt - at) / 1000))),
        delay: 0,
      })),
    };
    const clientId = batch[0]?.clientId ?? '';
    const ids = await queues.post(project, name, clientId, document);
    // Only now, with the copies stored: deleting first would lose them to a crash.
    await queues.deleteMessages(
      project,
      dlq,
      batch.map((m) => m.id),
    );
    batch.forEach((m, i) => {
      result.moved.push({ from: m.id, to: ids[i] as string });
    });
  }
  return result;
}

/** The named dead letters; refuses (moving nothing) an id that is not there or is claimed. */
async function named(queues: ResourceScope, project: string, dlq: string, ids: string[]): Promise<Message[]> {
  const found = await queues.getMessages(project, dlq, ids);
  const byId = new Map(found.map((m) => [m.id, m]));
  for (const id of ids) {
    const m = byId.get(id);
    if (m === undefined) throw new MessageNotFoundError(dlq, id);
    if (m.claimId !== null) {
      throw new ResourceConflictError('message', id, `is claimed in ${dlq}; release the claim or let it expire first`);
    }
  }
  return ids.map((id) => byId.get(id) as Message);
}

/** Every unclaimed message of the dead-letter queue, oldest first, up to MAX_REDRIVE_MESSAGES. */
async function everyFree(
  queues: ResourceScope,
  project: string,
  dlq: string,
  perPage: number,
): Promise<{ messages: Message[]; more: boolean }> {
  const out: Message[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await queues.listMessages(project, dlq, 'posthorn-redrive', {
      ...(marker !== undefined ? { marker } : {}),
      limit: perPage,
      echo: true,
      includeClaimed: true,
      includeDelayed: true,
    });
    for (const m of page.messages) {
      if (m.claimId !== null) continue;
      if (out.length === MAX_REDRIVE_MESSAGES) return { messages: out, more: true };
      out.push(m);
    }
    if (page.messages.length === 0 || page.marker === null || page.marker === marker) break;
    marker = page.marker;
  }
  return { messages: out, more: false };
}

/**
 * Splits the messages into posts of at most `perPost` messages from one client each, every post's
 * JSON within `maxPostSize`. A message too large for any post refuses the whole redrive.
 */
function batchesOf(messages: Message[], perPost: number, maxPostSize: number, queue: string): Message[][] {
  const batches: Message[][] = [];
  let batch: Message[] = [];
  let size = 0;
  // `{"messages":[]}` plus, per message, `{"body":…,"ttl":1209600,"delay":0},`.
  const ENVELOPE = 16;
  const PER_MESSAGE = 40;
  for (const m of messages) {
    const bytes = bodySize(m.body) + PER_MESSAGE;
    if (bytes + ENVELOPE > maxPostSize) {
      throw apiError(
        'messages',
        `Dead letter ${m.id} is ${bytes - PER_MESSAGE} bytes, more than queue ${queue} accepts in a post (${maxPostSize}); nothing was moved.`,
      );
    }
    const sameClient = batch.length === 0 || batch[0]?.clientId === m.clientId;
    if (batch.length === perPost || !sameClient || size + bytes + ENVELOPE > maxPostSize) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(m);
    size += bytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * Refuses a redrive the project's quotas have no room for. The moved messages leave the
 * dead-letter queue, but only after they are posted: for a moment the project holds both.
 */
async function checkQuota(quotas: QuotaBook, project: string, messages: Message[]): Promise<void> {
  const { max_messages: maxMessages, max_bytes: maxBytes } = await quotas.quotasOf(project);
  // Counting a project's messages reads the store: only when a quota asks for it.
  if (maxMessages === null && maxBytes === null) return;
  const report = await quotas.report(project);
  if (maxMessages !== null && report.usage.messages + messages.length > maxMessages) {
    throw new QuotaExceededError(project, 'max_messages', maxMessages, report.usage.messages, messages.length);
  }
  if (maxBytes !== null) {
    const bytes = messages.reduce((sum, m) => sum + bodySize(m.body), 0);
    if (report.usage.bytes + bytes > maxBytes) {
      throw new QuotaExceededError(project, 'max_bytes', maxBytes, report.usage.bytes, bytes);
    }
  }
}

/** A redrive's answer as both APIs send it (HTTP's body, the WebSocket's `body`). */
export function redriveDocument(result: RedriveResult): Record<string, unknown> {
  return {
    queue: result.queue,
    dead_letter_queue: result.deadLetterQueue,
    moved: result.moved,
    count: result.moved.length,
    more: result.more,
  };
}
