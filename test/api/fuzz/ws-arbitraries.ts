/**
 * Frames for every WebSocket action (the table below has one entry per action of Zaqar's request
 * schema; the coverage test compares it with src/api/ws's table), mostly valid, otherwise wrong:
 * fields of the wrong type, missing or non-string identity headers, unknown actions, frames that
 * are not JSON or not objects, and deep nesting. Sent as JSON text or as MessagePack.
 */
import fc from 'fast-check';
import {
  anyFlavor,
  anyPool,
  clientId,
  flavorDoc,
  message,
  metadata,
  ownFlavor,
  ownPool,
  poolDoc,
  project,
  subscriptionDoc,
} from './http-arbitraries.js';
import { ADMIN_TOKEN } from './targets.js';
import { anyValue, deep, field, idRef, oddNumber, queueName } from './values.js';

type Doc = Record<string, unknown>;

const q = queueName.map((queue_name) => ({ queue_name }));
const limit = fc.option(field(1, 2, 5, 20), { freq: 2 });
const flag = fc.option(fc.oneof(fc.boolean(), fc.constantFrom('true', 'no', 'maybe', 1)), { freq: 2 });
const marker = fc.option(fc.constantFrom('', 'fq1', 'bogus', 5), { freq: 3 });

/** Body fields merged into a queue-named body; absent options stay absent. */
function withQueue(fields: { [key: string]: fc.Arbitrary<unknown> }): fc.Arbitrary<Doc> {
  return fc.tuple(q, fc.record(fields, { requiredKeys: [] })).map(([a, b]) => ({ ...a, ...dropNulls(b) }));
}

function dropNulls(doc: Doc): Doc {
  return Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== null));
}

const none = fc.constant<Doc>({});

export const WS_GENERATORS: Readonly<Record<string, fc.Arbitrary<Doc>>> = {
  get_home_doc: none,
  check_node_health: none,
  ping_node: none,
  authenticate: none,

  queue_list: fc.record({ marker, limit, detailed: flag }, { requiredKeys: [] }).map(dropNulls),
  queue_create: withQueue({
    metadata: fc.oneof({ weight: 6, arbitrary: metadata }, { weight: 1, arbitrary: anyValue }),
  }),
  queue_delete: q,
  queue_get: q,
  queue_get_stats: q,
  queue_purge: withQueue({
    resource_types: fc.oneof(fc.constantFrom(['messages'], ['subscriptions'], ['bogus'], []), anyValue),
  }),

  queue_redrive: withQueue({ message_ids: fc.oneof(fc.array(idRef('message'), { maxLength: 3 }), anyValue) }),

  message_list: withQueue({ marker, limit, echo: flag, include_claimed: flag, include_delayed: flag }),
  message_get: withQueue({ message_id: idRef('message') }),
  message_get_many: withQueue({ message_ids: fc.oneof(fc.array(idRef('message'), { maxLength: 3 }), anyValue) }),
  message_post: withQueue({
    messages: fc.oneof(
      { weight: 8, arbitrary: fc.array(message, { maxLength: 3 }) },
      { weight: 1, arbitrary: anyValue },
    ),
  }),
  message_delete: withQueue({ message_id: idRef('message'), claim_id: fc.option(idRef('claim'), { freq: 2 }) }),
  message_delete_many: withQueue({
    message_ids: fc.option(fc.array(idRef('message'), { maxLength: 3 }), { freq: 2 }),
    pop: fc.option(field(1, 2, 5), { freq: 2 }),
  }),

  claim_create: withQueue({ limit, ttl: fc.option(field(60, 300)), grace: fc.option(field(30, 60)) }),
  claim_get: withQueue({ claim_id: idRef('claim') }),
  claim_update: withQueue({ claim_id: idRef('claim'), ttl: fc.option(field(60, 300)), grace: fc.option(field(30)) }),
  claim_delete: withQueue({ claim_id: idRef('claim') }),

  pool_list: fc
    .record({ pool_name: fc.constantFrom('', 'x'), limit, marker, detailed: flag }, { requiredKeys: [] })
    .map(dropNulls),
  pool_create: fc
    .tuple(fc.oneof(ownPool, fc.constant('p1')), poolDoc)
    .map(([pool_name, doc]) => ({ pool_name, ...doc })),
  pool_update: fc.tuple(ownPool, poolDoc).map(([pool_name, doc]) => ({ pool_name, ...doc })),
  pool_get: fc.tuple(anyPool, flag).map(([pool_name, detailed]) => dropNulls({ pool_name, detailed })),
  pool_delete: ownPool.map((pool_name) => ({ pool_name })),
  flavor_list: fc.record({ flavor_name: fc.constantFrom('', 'x'), limit, marker }, { requiredKeys: [] }).map(dropNulls),
  flavor_create: fc
    .tuple(fc.oneof(ownFlavor, fc.constant('f1')), fc.constantFrom('fz1', 'nope', 5), flavorDoc)
    .map(([flavor_name, pool_name, doc]) => ({ flavor_name, pool_name, ...doc })),
  flavor_update: fc
    .tuple(ownFlavor, fc.option(fc.constantFrom('fz1', 'nope', 5)), flavorDoc)
    .map(([flavor_name, pool_name, doc]) => dropNulls({ flavor_name, pool_name, ...doc })),
  flavor_get: anyFlavor.map((flavor_name) => ({ flavor_name })),
  flavor_delete: ownFlavor.map((flavor_name) => ({ flavor_name })),

  subscription_list: withQueue({ marker, limit }),
  // Without a subscriber the socket subscribes itself (its subscriptions go when it closes).
  subscription_create: fc
    .tuple(q, subscriptionDoc, fc.boolean())
    .map(([a, doc, own]) => ({ ...a, ...(own ? { ...doc, subscriber: undefined } : doc) })),
  subscription_delete: withQueue({ subscription_id: idRef('subscription') }),
  subscription_get: withQueue({ subscription_id: idRef('subscription') }),
};

/** A frame: an action's request document, or a frame that is not one; JSON text or MessagePack. */
export type WsFrame =
  | { kind: 'request'; action: string; binary: boolean; document: Doc }
  | { kind: 'raw'; text: string };

const headers = fc
  .tuple(
    clientId,
    project,
    fc.constantFrom(ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, null, 'wrong'),
    fc.constantFrom<unknown>(...Array(12).fill(null), 5, ['x']),
  )
  .map(([id, proj, token, odd]) => {
    const h: Doc = {};
    if (id !== null) h['Client-ID'] = Array.isArray(id) ? id.join(', ') : id;
    if (proj !== null) h['X-Project-ID'] = Array.isArray(proj) ? proj.join(', ') : proj;
    if (token !== null) h['X-Admin-Token'] = token;
    // A header of the wrong type, which the schema refuses.
    if (odd !== null)
      h[['Client-ID', 'X-Project-ID', 'Date'][Math.abs(JSON.stringify(odd).length) % 3] as string] = odd;
    return h;
  });

export function framesFor(action: string): fc.Arbitrary<WsFrame> {
  const body = WS_GENERATORS[action] as fc.Arbitrary<Doc>;
  return fc
    .tuple(body, headers, fc.boolean(), fc.constantFrom(...Array(12).fill('body'), 'none', 'odd'), oddNumber)
    .map(([b, h, binary, shape, odd]) => {
      const document: Doc = { action, headers: h };
      if (shape === 'body') document.body = b;
      if (shape === 'odd') document.body = odd;
      return { kind: 'request', action, binary, document };
    });
}

/** Frames that are not a request: not JSON, not an object, no or an unknown action, deep. */
export const noiseFrames: fc.Arbitrary<WsFrame> = fc.oneof(
  fc.constantFrom<WsFrame>(
    { kind: 'raw', text: 'not json' },
    { kind: 'raw', text: '[]' },
    { kind: 'raw', text: '"x"' },
    { kind: 'raw', text: '{}' },
    { kind: 'raw', text: '{"action":"nope","headers":{},"body":{}}' },
    { kind: 'raw', text: '{"action":5}' },
    { kind: 'raw', text: '{"action":"queue_list","headers":[],"body":{}}' },
    {
      kind: 'raw',
      text: '{"action":"queue_list","headers":{"Client-ID":"3381af92-2b9e-11e3-b191-71861300734c","X-Project-ID":"fz"},"body":{"limit":-1e400}}',
    },
    {
      kind: 'raw',
      text: '{"action":"queue_list","headers":{"Client-ID":"3381af92-2b9e-11e3-b191-71861300734c","X-Project-ID":"fz"},"body":{"limit":99999999999999999999999}}',
    },
  ),
  deep.map(
    (d): WsFrame => ({
      kind: 'request',
      action: 'queue_create',
      binary: false,
      document: { action: 'queue_create', headers: {}, body: { queue_name: 'fq1', metadata: d } },
    }),
  ),
);
