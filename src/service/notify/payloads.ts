import { isPlainObject, type NewMessage } from '../../core/index.js';
import { pythonJson } from '../checksum.js';

/**
 * What subscribers receive, shaped as Zaqar shapes it (zaqar/notification/notifier.py and
 * tasks/webhook.py), key order included, serialized as Python's json.dumps does — so a receiver
 * written against Zaqar, even one that compares bytes or signs them, sees the same document.
 */

export type Payload = Record<string, unknown>;

/**
 * A posted message as Zaqar notifies it: the message as the client posted it (its ttl, with the
 * default filled in, and body), then `Message_Type` and `queue_name`. Zaqar's notifier runs
 * before the message is stored, so there is no message id. Byte bodies (MessagePack clients)
 * cannot travel in JSON; they are sent as base64 text.
 */
export function notificationPayload(message: NewMessage, queueName: string): Payload {
  const body = message.body instanceof Uint8Array ? Buffer.from(message.body).toString('base64') : message.body;
  return { ttl: message.ttl, body, Message_Type: 'Notification', queue_name: queueName };
}

export type ConfirmationType = 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

export interface ConfirmationFields {
  type: ConfirmationType;
  queueName: string;
  /** The pre-signed URL of the confirm resource. */
  signature: string;
  methods: string;
  path: string;
  project: string;
  expires: string;
  /** The confirm resource as a full URL on the HTTP API, when the server knows its public address. */
  httpUrl: string | null;
  /** The same on the WebSocket API. */
  wsUrl: string | null;
}

/** The confirmation request (or unsubscribe notice) a subscriber gets when confirmation is required. */
export function confirmationPayload(f: ConfirmationFields): Payload {
  const payload: Payload = {};
  if (f.httpUrl !== null) payload.WSGISubscribeURL = f.httpUrl;
  if (f.wsUrl !== null) payload.WebSocketSubscribeURL = f.wsUrl;
  payload.Message_Type = f.type;
  payload.Message =
    f.type === 'SubscriptionConfirmation'
      ? `You have chosen to subscribe to the queue: ${f.queueName}`
      : `You have unsubscribed successfully to the queue: ${f.queueName}, you can resubscribe it by using confirmed=True.`;
  payload['URL-Signature'] = f.signature;
  payload['URL-Methods'] = f.methods;
  payload['URL-Paths'] = f.path;
  payload['X-Project-ID'] = f.project;
  payload['URL-Expires'] = f.expires;
  payload.SubscribeBody = { confirmed: true };
  payload.UnsubscribeBody = { confirmed: false };
  payload.queue_name = f.queueName;
  return payload;
}

/** The placeholder of `post_data` that Zaqar replaces by the notification, quotes included. */
const PLACEHOLDER = '"$zaqar_message$"';

/** A notification as its JSON text (Python's json.dumps), computed once and sent to every subscriber. */
export function payloadJson(payload: Payload): string {
  return pythonJson(payload);
}

/**
 * The body of a webhook POST: the notification's JSON (payloadJson), or the subscription's
 * `post_data` template with every `"$zaqar_message$"` replaced by it. A `post_data` that is not
 * text is ignored.
 */
export function webhookBody(json: string, options: Record<string, unknown>): string {
  const template = options.post_data;
  if (typeof template !== 'string') return json;
  return template.split(PLACEHOLDER).join(json);
}

/**
 * The headers of a webhook POST: `Content-Type: application/json`, then the subscription's
 * `post_headers` on top. Values that are not text are written as JSON; names or values that
 * HTTP cannot carry are left out (Zaqar's request would fail on them, and retry for nothing).
 */
export function webhookHeaders(options: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const extra = options.post_headers;
  if (!isPlainObject(extra)) return headers;
  for (const [name, raw] of Object.entries(extra)) {
    if (raw === null || raw === undefined) continue;
    const value = typeof raw === 'string' ? raw : JSON.stringify(raw);
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) continue;
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const HEADER_VALUE = /^[^\u0000-\u0008\u000a-\u001f\u007f]*$/;
