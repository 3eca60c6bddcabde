import { checkJsonValue, InvalidArgumentError, isPlainObject, type Limits, type NewMessage } from '../core/index.js';
import { MAX_SUBSCRIBER_LENGTH } from '../store/contract/index.js';
import { messageChecksum } from './checksum.js';
import { apiError, bodyError } from './errors.js';
import type { PostTerms } from './reserved-metadata.js';
import { checkRetryPolicy } from './reserved-metadata.js';

/**
 * Reading the JSON documents clients send, with Zaqar's rules: which fields are read, which are
 * ignored, which are required, and which refusal (a malformed document, or a rule broken) each
 * mistake earns. Every check runs before anything is written.
 *
 * Who checks what (the store's half is at the top of store/contract/guard.ts): the service owns
 * the wire document — its shape, the types of its fields, Zaqar's wording and titles — and the
 * per-queue rules: a queue's default ttl and delay, its post size (MessagesTooLargeError), its
 * encryption. The values every driver refuses alike (a message's body, its ttl and delay ranges)
 * are the store contract's: the service has them checked by checkMessages(), against its own
 * limits, before it writes anything, and the driver does not check that list again. The field
 * types read here (an object, an integer ttl) are what reading the document needs and what
 * Zaqar's titles tell apart; the store's check repeats only those typeofs. Each rule runs once.
 */

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** A whole number of items asked for at once (a page, a claim, a pop): 1..max. */
export function checkCountParameter(value: number | undefined, field: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!isInteger(value) || value < 1 || value > max) {
    throw apiError(field, `${field} must be at least 1 and at most ${max}.`);
  }
  return value;
}

/** An integer field of a document: absent gives the default; a non-integer is a malformed document. */
function intField(document: Record<string, unknown>, name: string, fallback: number, where: string): number {
  const value = document[name];
  if (value === undefined) return fallback;
  if (!isInteger(value)) throw bodyError(`${where}${name}`, `The value of the "${name}" field must be an integer.`);
  return value;
}

function range(value: number, field: string, min: number, max: number, what: string): number {
  if (value < min || value > max) {
    throw apiError(field, `The ${what} must be at least ${min} and at most ${max} seconds.`);
  }
  return value;
}

/**
 * `{"messages": [{"body": ..., "ttl"?: n, "delay"?: n}, ...]}` into messages to post, with the
 * queue's default ttl and delay for those that give none. Other fields of a message are ignored,
 * as Zaqar ignores them; a checksum is computed, never taken from the client. The ranges of ttl
 * and delay are the store's to check (checkMessages); postRefusal words its refusal.
 */
export function readMessagePost(document: unknown, terms: PostTerms, checksums: boolean): NewMessage[] {
  if (!isPlainObject(document) || !('messages' in document)) {
    throw apiError('messages', 'No messages were found in the request body (expected {"messages": [...]}).');
  }
  const list = document.messages;
  if (!Array.isArray(list)) throw bodyError('messages', 'The "messages" field must be an array of messages.');
  if (list.length === 0) throw apiError('messages', 'There are no messages to post.');
  const messages: NewMessage[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const where = `messages[${i}].`;
    if (!isPlainObject(item)) throw bodyError(`messages[${i}]`, `Message ${i} must be a JSON object.`);
    if (!('body' in item)) throw bodyError(`${where}body`, `Message ${i} has no "body" field.`);
    const message: NewMessage = {
      body: item.body,
      ttl: intField(item, 'ttl', terms.defaultTtl, where),
      delay: intField(item, 'delay', terms.defaultDelay, where),
    };
    if (checksums) {
      const checksum = messageChecksum(item.body);
      if (checksum !== undefined) message.checksum = checksum;
    }
    messages[i] = message;
  }
  return messages;
}

/**
 * The store's refusal of a message's ttl or delay (checkMessages) in the sentence clients of
 * Zaqar read; other refusals (a body nested too deep...) pass as the store words them.
 */
export function postRefusal(error: unknown, limits: Limits): unknown {
  if (!(error instanceof InvalidArgumentError)) return error;
  if (error.field.endsWith('.ttl')) {
    return apiError(
      error.field,
      `The TTL of a message must be at least ${limits.minMessageTtl} and at most ${limits.maxMessageTtl} seconds.`,
    );
  }
  if (error.field.endsWith('.delay')) {
    return apiError(
      error.field,
      `The delay of a message must be at least ${limits.minMessageDelay} and at most ${limits.maxMessageDelay} seconds.`,
    );
  }
  return error;
}

export interface ClaimTermsDocument {
  ttl: number;
  grace: number;
}

/** `{"ttl"?: n, "grace"?: n}` of a claim create or update; `undefined` (no body) takes the defaults. */
export function readClaimTerms(document: unknown, limits: Limits, required: boolean): ClaimTermsDocument {
  if (document === undefined) {
    if (required) throw bodyError('body', 'The request body must not be empty.');
    document = {};
  }
  if (!isPlainObject(document)) throw bodyError('body', 'The request body must be a JSON object.');
  const ttl = intField(document, 'ttl', limits.defaultClaimTtl, '');
  const grace = intField(document, 'grace', limits.defaultClaimGrace, '');
  range(ttl, 'ttl', limits.minClaimTtl, limits.maxClaimTtl, 'TTL of a claim');
  range(grace, 'grace', limits.minClaimGrace, limits.maxClaimGrace, 'grace of a claim');
  return { ttl, grace };
}

/** Zaqar's default subscriber schemes (`[transport] subscriber_types`). */
export const DEFAULT_SUBSCRIBER_TYPES: readonly string[] = Object.freeze([
  'http',
  'https',
  'mailto',
  'trust+http',
  'trust+https',
]);

export interface SubscriptionDocument {
  subscriber?: string;
  ttl?: number;
  options?: Record<string, unknown>;
}

const SUBSCRIPTION_FIELDS = new Set(['subscriber', 'ttl', 'options']);

/**
 * A subscription create (`required`) or update document: `subscriber` a URI of an accepted scheme,
 * `ttl` seconds of life (at least the minimum), `options` an object (with a valid `_retry_policy`).
 */
export function readSubscription(
  document: unknown,
  limits: Limits,
  subscriberTypes: readonly string[],
  required: boolean,
): SubscriptionDocument {
  if (document === undefined) document = {};
  if (!isPlainObject(document)) throw apiError('body', 'The subscription must be a JSON object.');
  if (required && !('subscriber' in document)) throw apiError('subscriber', 'The "subscriber" field is missing.');
  if (!required) {
    if (Object.keys(document).length === 0) throw apiError('body', 'There is nothing to change in the subscription.');
    const unknown = Object.keys(document).filter((key) => !SUBSCRIPTION_FIELDS.has(key));
    if (unknown.length > 0) throw apiError('body', `Subscriptions have no field ${unknown.join(', ')}.`);
  }
  const result: SubscriptionDocument = {};
  if ('subscriber' in document) {
    const subscriber = document.subscriber;
    const scheme = typeof subscriber === 'string' ? /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(subscriber)?.[1] : undefined;
    if (scheme === undefined || !subscriberTypes.includes(scheme.toLowerCase())) {
      throw apiError(
        'subscriber',
        `The subscriber must be a URI of one of the supported types: ${subscriberTypes.join(', ')}.`,
      );
    }
    // The store refuses longer ones too, but only after subscribe has created the queue: check
    // here, so a refused subscription leaves nothing behind.
    if ((subscriber as string).length > MAX_SUBSCRIBER_LENGTH) {
      throw apiError('subscriber', `The subscriber must be at most ${MAX_SUBSCRIBER_LENGTH} characters long.`);
    }
    result.subscriber = subscriber as string;
  }
  if ('options' in document && document.options !== null) {
    const options = document.options;
    if (!isPlainObject(options)) throw apiError('options', 'The subscription options must be a JSON object.');
    checkRetryPolicy(options._retry_policy, 'options._retry_policy');
    // What the store checks (plain JSON, at most 100 levels deep), before the queue is created.
    checkJsonValue(options, 'options');
    result.options = options;
  }
  if ('ttl' in document && document.ttl !== null) {
    const ttl = document.ttl;
    if (!isInteger(ttl)) throw apiError('ttl', 'The TTL of a subscription must be an integer.');
    if (ttl < limits.minSubscriptionTtl || ttl > limits.maxSubscriptionTtl) {
      throw apiError(
        'ttl',
        `The TTL of a subscription must be at least ${limits.minSubscriptionTtl} and at most ${limits.maxSubscriptionTtl} seconds.`,
      );
    }
    result.ttl = ttl;
  }
  return result;
}

/** `{"confirmed": true|false}`. */
export function readConfirmation(document: unknown): boolean {
  const confirmed = isPlainObject(document) ? document.confirmed : undefined;
  if (typeof confirmed !== 'boolean') throw apiError('confirmed', 'The "confirmed" field must be a boolean.');
  return confirmed;
}

export type PurgeableResource = 'messages' | 'subscriptions';

/** `{"resource_types": ["messages", "subscriptions"]}`; no document purges both. */
export function readPurge(document: unknown): Set<PurgeableResource> {
  if (document === undefined) return new Set(['messages', 'subscriptions']);
  if (!isPlainObject(document) || !('resource_types' in document)) {
    throw apiError('resource_types', 'The body must hold "resource_types".');
  }
  const types = document.resource_types;
  if (!Array.isArray(types) || types.some((t) => t !== 'messages' && t !== 'subscriptions')) {
    throw apiError('resource_types', 'resource_types must be a list of "messages" and "subscriptions".');
  }
  return new Set(types as PurgeableResource[]);
}
