/**
 * The request schema of Zaqar's WebSocket API (zaqar/api/v1/request.py, v1_1/request.py,
 * v2/request.py): for each action, the headers it needs and the body fields it reads, with
 * their JSON types. Zaqar checks requests with jsonschema against it and answers any mismatch
 * with 400 `{"error": "Schema validation failed."}`; other fields are allowed and ignored.
 */

type JsonType = 'string' | 'integer' | 'boolean' | 'array' | 'object';

interface ActionSchema {
  /** Headers that must be present (as strings). */
  headers: readonly string[];
  /** Whether the request must have a body (an object). */
  body: boolean;
  /** Body fields that must be present. */
  required: readonly string[];
  /** The type of each body field that is checked when present. */
  fields: Readonly<Record<string, JsonType>>;
}

const IDENTITY = ['Client-ID', 'X-Project-ID'] as const;
/** The headers the schema types (as strings); others are not looked at. */
const KNOWN_HEADERS = [
  'User-Agent',
  'Date',
  'Accept',
  'Client-ID',
  'X-Project-ID',
  'X-Auth-Token',
  'Idempotency-Key',
] as const;

function action(
  required: readonly string[],
  fields: Record<string, JsonType>,
  options: { headers?: readonly string[]; body?: boolean } = {},
): ActionSchema {
  return { headers: options.headers ?? IDENTITY, body: options.body ?? true, required, fields };
}

const Q = { queue_name: 'string' } as const;

export const ACTIONS: Readonly<Record<string, ActionSchema>> = Object.freeze({
  get_home_doc: action([], {}, { headers: [], body: false }),
  check_node_health: action([], {}, { headers: [], body: false }),
  ping_node: action([], {}, { headers: [], body: false }),
  authenticate: action([], {}, { headers: ['X-Project-ID', 'X-Auth-Token'], body: false }),

  queue_list: action([], { marker: 'string', limit: 'integer', detailed: 'boolean' }, { body: false }),
  queue_create: action(['queue_name'], Q),
  queue_delete: action(['queue_name'], Q),
  queue_get: action(['queue_name'], Q),
  queue_get_stats: action(['queue_name'], Q),
  queue_purge: action(['queue_name'], { ...Q, resource_types: 'array' }),
  queue_redrive: action(['queue_name'], { ...Q, message_ids: 'array' }),

  message_list: action(['queue_name'], {
    ...Q,
    marker: 'string',
    limit: 'integer',
    echo: 'boolean',
    include_claimed: 'boolean',
  }),
  message_get: action(['queue_name', 'message_id'], { ...Q, message_id: 'string' }),
  message_get_many: action(['queue_name', 'message_ids'], { ...Q, message_ids: 'array' }),
  message_post: action(['queue_name', 'messages'], { ...Q, messages: 'array', idempotency_key: 'string' }),
  message_delete: action(['queue_name', 'message_id'], { ...Q, message_id: 'string', claim_id: 'string' }),
  message_delete_many: action(['queue_name'], {
    ...Q,
    message_ids: 'array',
    claim_ids: 'array',
    pop: 'integer',
  }),

  claim_create: action(['queue_name'], { ...Q, limit: 'integer', ttl: 'integer', grace: 'integer' }),
  claim_get: action(['queue_name', 'claim_id'], { ...Q, claim_id: 'string' }),
  claim_update: action(['queue_name', 'claim_id'], { ...Q, claim_id: 'string', ttl: 'integer' }),
  claim_delete: action(['queue_name', 'claim_id'], { ...Q, claim_id: 'string' }),

  pool_list: action(['pool_name'], { pool_name: 'string', limit: 'integer', marker: 'string' }),
  pool_create: action(['pool_name'], { pool_name: 'string', weight: 'integer', uri: 'string', options: 'object' }),
  pool_update: action(['pool_name'], { pool_name: 'string', weight: 'integer', uri: 'string', options: 'object' }),
  pool_get: action(['pool_name'], { pool_name: 'string', detailed: 'boolean' }),
  pool_delete: action(['pool_name'], { pool_name: 'string' }),

  flavor_list: action(['flavor_name'], { flavor_name: 'string', limit: 'integer', marker: 'string' }),
  flavor_create: action(['flavor_name', 'pool_name'], {
    flavor_name: 'string',
    pool_name: 'string',
    capabilities: 'object',
  }),
  flavor_update: action(['flavor_name'], { flavor_name: 'string', pool_name: 'string', capabilities: 'object' }),
  flavor_get: action(['flavor_name'], { flavor_name: 'string', detailed: 'boolean' }),
  flavor_delete: action(['flavor_name'], { flavor_name: 'string' }),

  subscription_list: action(['queue_name'], Q),
  subscription_create: action(['queue_name'], { ...Q, subscriber: 'string', ttl: 'integer', options: 'object' }),
  subscription_delete: action(['queue_name', 'subscription_id'], { ...Q, subscription_id: 'string' }),
  subscription_get: action(['queue_name', 'subscription_id'], { ...Q, subscription_id: 'string' }),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
  }
}

/** True when the request (`{"action", "headers", "body"}`) matches its action's schema. */
export function matchesSchema(schema: ActionSchema, request: Record<string, unknown>): boolean {
  const headers = request.headers;
  if (!isObject(headers)) return false;
  for (const name of schema.headers) if (typeof headers[name] !== 'string') return false;
  for (const name of KNOWN_HEADERS) if (name in headers && typeof headers[name] !== 'string') return false;
  const body = request.body;
  if (body === undefined) return !schema.body;
  if (!isObject(body)) return false;
  for (const name of schema.required) if (!(name in body)) return false;
  for (const [name, type] of Object.entries(schema.fields)) {
    if (name in body && !hasType(body[name], type)) return false;
  }
  return true;
}
