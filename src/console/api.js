// The console's one way to the server: the Zaqar v2 HTTP API, with the credentials the user
// signed in with. Nothing here knows a page; every page calls these functions, so what the
// console can do is exactly what the API lets this user do.

const SESSION_KEY = 'posthorn-console';
/** Messages a page of the queue page shows (Zaqar's default page). */
export const MESSAGES_PER_PAGE = 10;

/** A refusal or failure of the API, with Zaqar's title and description. */
export class ApiError extends Error {
  constructor(status, title, description) {
    super(description || title);
    this.status = status;
    this.title = title;
  }
}

function uuid() {
  // crypto.randomUUID exists only on secure origins; a console on http://host:8888 is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The signed-in user: project, token, admin token. Kept for the tab only (sessionStorage). */
export function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (saved && typeof saved.project === 'string') return saved;
  } catch {
    // A damaged entry is a signed-out user.
  }
  return null;
}

export function saveSession(session) {
  const full = { clientId: uuid(), ...session };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(full));
  return full;
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

let session = loadSession();

export function currentSession() {
  return session;
}

export function useSession(next) {
  session = next;
}

function headers(admin) {
  const h = { 'Client-ID': session?.clientId ?? uuid(), Accept: 'application/json' };
  if (session?.project) h['X-Project-ID'] = session.project;
  if (session?.token) h['X-Auth-Token'] = session.token;
  if (admin && session?.adminToken) h['X-Admin-Token'] = session.adminToken;
  return h;
}

/**
 * One API call. Answers the parsed JSON body (null for 204); throws ApiError with the server's
 * title and description, or with what went wrong on the way (the server is down, an answer is
 * not JSON), so a page always has a sentence to show.
 */
export async function call(method, path, options = {}) {
  const init = { method, headers: headers(options.admin) };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers['Content-Type'] = options.contentType ?? 'application/json';
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'The server could not be reached', String(error?.message ?? error));
  }
  const text = await response.text();
  let body = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, `HTTP ${response.status}`, text.slice(0, 300));
    }
  }
  if (!response.ok) {
    const title = typeof body?.title === 'string' ? body.title : `HTTP ${response.status}`;
    const description = typeof body?.description === 'string' ? body.description : '';
    throw new ApiError(response.status, title, description);
  }
  return body;
}

const q = (name) => `/v2/queues/${encodeURIComponent(name)}`;

export const api = {
  listQueues: (marker) =>
    call('GET', `/v2/queues?detailed=true&limit=20${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`),
  stats: (queue) => call('GET', `${q(queue)}/stats`),
  metadata: (queue) => call('GET', q(queue)),
  createQueue: (queue, metadata) => call('PUT', q(queue), { body: metadata ?? {} }),
  replaceMetadata: (queue, metadata) => {
    // Zaqar's v2 PATCH is a JSON Patch; replacing the document key by key is what it accepts.
    const ops = Object.entries(metadata).map(([key, value]) => ({ op: 'add', path: `/metadata/${key}`, value }));
    return call('PATCH', q(queue), { body: ops, contentType: 'application/openstack-messaging-v2.0-json-patch' });
  },
  removeMetadataKeys: (queue, keys) =>
    call('PATCH', q(queue), {
      body: keys.map((key) => ({ op: 'remove', path: `/metadata/${key}` })),
      contentType: 'application/openstack-messaging-v2.0-json-patch',
    }),
  messages: (queue, marker) =>
    call(
      'GET',
      `${q(queue)}/messages?echo=true&include_claimed=true&include_delayed=true&limit=${MESSAGES_PER_PAGE}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`,
    ),
  postMessage: (queue, body, ttl, delay) => {
    const message = { body };
    if (ttl !== undefined) message.ttl = ttl;
    if (delay !== undefined) message.delay = delay;
    return call('POST', `${q(queue)}/messages`, { body: { messages: [message] } });
  },
  deleteMessage: (queue, id) => call('DELETE', `${q(queue)}/messages/${encodeURIComponent(id)}`),
  purge: (queue) => call('POST', `${q(queue)}/purge`, { body: { resource_types: ['messages'] } }),
  claim: (queue, id) => call('GET', `${q(queue)}/claims/${encodeURIComponent(id)}`),
  subscriptions: (queue) => call('GET', `${q(queue)}/subscriptions`),
  subscription: (queue, id) => call('GET', `${q(queue)}/subscriptions/${encodeURIComponent(id)}`),
  // Posthorn's own routes (issue 14): the redrive and the notification spool, admin.
  redrive: (queue, ids) => call('POST', `${q(queue)}/redrive`, { body: ids ? { ids } : {} }),
  spoolEntries: () => call('GET', '/v2/notifications/spool', { admin: true }),
  /** send, freeze, remove or recover (contract-14.md): answers {done, failed}. */
  spoolAction: (action, ids, extra = {}) =>
    call('POST', `/v2/notifications/spool/${action}`, { admin: true, body: { ids, ...extra } }),
  pools: () => call('GET', '/v2/pools?detailed=true', { admin: true }),
  flavors: () => call('GET', '/v2/flavors?detailed=true', { admin: true }),
  startMove: (queue, pool) => call('POST', `${q(queue)}/move`, { admin: true, body: { pool } }),
  moveStatus: (queue) => call('GET', `${q(queue)}/move`, { admin: true }),
  /** Prometheus text of /metrics, or null when the server has none (or will not show it). */
  metrics: async () => {
    try {
      const response = await fetch('/metrics', { headers: headers(true) });
      return response.ok ? await response.text() : null;
    } catch {
      return null;
    }
  },
};

/**
 * The samples of one family from Prometheus text, by project and queue (and `state` when the
 * family has it): `posthorn_messages{project="p",queue="q",state="delayed"} 3` ->
 * Map { "p/q/delayed" => 3 }; `posthorn_messages_posted_total{project="p",queue="q"} 12` ->
 * Map { "p/q" => 12 }.
 */
export function samplesByQueue(text, family) {
  const found = new Map();
  if (!text) return found;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${family}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels = {};
    for (const match of line.slice(family.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]] = match[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = Number(
      line
        .slice(close + 1)
        .trim()
        .split(' ')[0],
    );
    if (labels.project === undefined || labels.queue === undefined || !Number.isFinite(value)) continue;
    const key = `${labels.project}/${labels.queue}`;
    found.set(labels.state === undefined ? key : `${key}/${labels.state}`, value);
  }
  return found;
}
