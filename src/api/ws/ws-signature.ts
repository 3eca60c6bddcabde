import type { QueueService } from '../../service/index.js';

/**
 * The HTTP method a pre-signed URL must allow for each WebSocket action it may stand in for:
 * Zaqar's `Handler._actions_mapping` (zaqar/api/handler.py). Only message actions can be signed;
 * any other action with a URL-Signature is refused as unauthenticated, as Zaqar refuses it.
 */
const SIGNED_ACTIONS: Readonly<Record<string, { method: string; byId: 'message_id' | null }>> = Object.freeze({
  message_list: { method: 'GET', byId: null },
  message_get: { method: 'GET', byId: 'message_id' },
  message_get_many: { method: 'GET', byId: null },
  message_post: { method: 'POST', byId: null },
  message_delete: { method: 'DELETE', byId: 'message_id' },
  message_delete_many: { method: 'DELETE', byId: null },
});

/**
 * Whether a WebSocket request's pre-signed URL headers (URL-Signature, URL-Expires, URL-Methods,
 * URL-Paths, X-Project-ID) let it run without `authenticate`, as Zaqar's protocol.py lets them.
 * The headers may be lists (Zaqar's own WebSocket tests send them so) or comma-separated strings
 * (as zaqarclient's signed-URL auth and the HTTP API carry them).
 *
 * Stricter than Zaqar in one way: Zaqar checks the signature over the presented paths but not
 * that the action's queue is among them, so a URL signed for one queue would open every queue of
 * the project. Here the action's queue path must be signed, exactly as for the HTTP route it
 * mirrors (`/v2/queues/{queue}/messages[/{id}]`).
 */
export function verifyWsSignature(
  service: QueueService,
  action: string,
  headers: Record<string, unknown>,
  body: Record<string, unknown>,
): boolean {
  const signed = SIGNED_ACTIONS[action];
  const signature = headers['URL-Signature'];
  if (signed === undefined || typeof signature !== 'string' || signature === '') return false;
  const queue = body.queue_name;
  if (typeof queue !== 'string') return false;
  let path = `/v2/queues/${queue}/messages`;
  if (signed.byId !== null) {
    const id = body[signed.byId];
    if (typeof id !== 'string') return false;
    path += `/${id}`;
  }
  const project = headers['X-Project-ID'];
  return service.verifySignature({
    signature,
    expires: listHeader(headers['URL-Expires']),
    methods: listHeader(headers['URL-Methods']),
    paths: listHeader(headers['URL-Paths']),
    project: typeof project === 'string' ? project : undefined,
    method: signed.method,
    path,
  });
}

/** A header as the comma-separated text the signature check reads; undefined when not text. */
function listHeader(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(',');
  return undefined;
}
