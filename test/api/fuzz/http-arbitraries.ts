/**
 * Requests for every HTTP route: one generator per route (in the table below, keyed by method
 * and path pattern with the API prefix abstracted), each making requests that are mostly valid —
 * so queues with metadata, messages, claims, subscriptions, topics, pools and flavors exist — and
 * otherwise wrong in the ways that matter: wrong types, odd numbers, deep nesting, bad names and
 * ids, missing or duplicated identity headers, odd query strings, bad JSON, wrong content types,
 * bodies over the limit. `generatorKey` maps a route of the app onto the table; a route with no
 * entry makes the coverage test fail.
 */
import fc from 'fast-check';
import { ADMIN_TOKEN, CLIENT, PROJECTS, SETUP_FLAVOR, SETUP_POOLS } from './targets.js';
import { anyValue, field, idRef, queueName, toJsonText } from './values.js';

export const PATCH_TYPE = 'application/openstack-messaging-v2.0-json-patch';

/** A body as sent: JSON text, bytes that are not UTF-8 (hex), or a document over a size limit. */
export type Body = { text: string } | { hex: string } | { oversize: number };

export interface HttpRequest {
  /** The table entry that made it (`any` for the method/path noise). */
  route: string;
  method: string;
  /** Path and query; `@kind:n` stands for a known id (known-ids.ts). */
  url: string;
  /** Header values; null leaves a default header out. */
  headers: Record<string, string | string[] | null>;
  body?: Body;
}

/** What a table entry makes; `prefix` is the collection (`/v2/queues`...) or the version (`/v2`). */
interface Part {
  path: string;
  query?: [string, string | undefined][];
  body?: Body | undefined;
  headers?: Record<string, string | string[] | null>;
}

type Maker = (prefix: string) => fc.Arbitrary<Part>;

const enc = encodeURIComponent;
const json = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<Body> => arb.map((v) => ({ text: toJsonText(v) }));

/** Bodies that are not the JSON a route wants. */
const badBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constantFrom<Body>(
    { text: '' },
    { text: 'not json' },
    { text: '{' },
    { text: '{"a":1}{"b":2}' },
    { text: 'null' },
    { text: '[]' },
    { text: '"x"' },
    { text: '\ufeff{}' },
    { text: '{"messages":[{"body":1,"ttl":-1e400}]}' },
    { text: '{"a":99999999999999999999999}' },
    { hex: 'c328ff7b7d' },
  ),
  json(anyValue),
);

/** A body: the route's own most of the time, a wrong one sometimes, none or one over the limit rarely. */
function bodyOf(valid: fc.Arbitrary<unknown>, size = 70_000): fc.Arbitrary<Body | undefined> {
  return fc.oneof(
    { weight: 10, arbitrary: json(valid) },
    { weight: 2, arbitrary: badBody },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant({ oversize: size }) },
  );
}

const queryInt = (...valid: number[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constantFrom(...valid.map(String)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('0', '-1', '1.5', '1e3', 'abc', '', '99999999999999999999999', ' 5 ', '+3', '0x10'),
    },
  );
const queryBool = fc.constantFrom(undefined, undefined, 'true', 'false', 'yes', '0', 'maybe', '', 'TRUE');
const marker = fc.constantFrom(undefined, undefined, undefined, '', 'fq1', 'bogus', '0', '-1', '9999999999');
const ids = fc.array(idRef('message'), { minLength: 0, maxLength: 3 }).map((a) => a.join(','));

export const message = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ body: anyValue, ttl: field(60, 300), delay: field(0, 10) }, { requiredKeys: ['body'] }),
  },
  { weight: 1, arbitrary: anyValue },
);
const messagesDoc = fc.oneof(
  { weight: 8, arbitrary: fc.record({ messages: fc.array(message, { minLength: 0, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.array(message, { maxLength: 2 }) },
  { weight: 1, arbitrary: fc.record({ messages: anyValue }) },
);
export const metadata = fc.record(
  {
    description: anyValue,
    _default_message_ttl: field(60, 300, 3600),
    _max_messages_post_size: field(1024, 65_536, 262_144, 100),
    _default_message_delay: field(0, 5),
    _max_claim_count: field(1, 3),
    _dead_letter_queue: fc.oneof(queueName, anyValue),
    _dead_letter_queue_messages_ttl: field(60),
    // Never a flavor the fuzzer makes: its pools have weight 0 (see pool bodies below).
    _flavor: fc.constantFrom(SETUP_FLAVOR, SETUP_FLAVOR, 'nope', '', 5),
    x: anyValue,
  },
  { requiredKeys: [] },
);
export const claimDoc = fc.record({ ttl: field(60, 300), grace: field(30, 60) }, { requiredKeys: [] });
export const subscriptionDoc = fc.record(
  {
    subscriber: fc.constantFrom(
      'http://127.0.0.1:9/hook',
      'https://example.invalid/x',
      'mailto:fz@example.invalid',
      'ftp://x',
      '',
      5,
      'http://',
    ),
    ttl: field(3600, 60),
    options: fc.oneof(fc.constant({}), fc.record({ a: anyValue }), anyValue),
  },
  { requiredKeys: [] },
);
const patchOps = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(
      fc.record(
        {
          op: fc.constantFrom('add', 'replace', 'remove', 'test', 'move', 'copy', 'bogus'),
          path: fc.constantFrom(
            '/metadata/a',
            '/metadata/_default_message_ttl',
            '/metadata',
            '/a',
            '',
            '/metadata/a/b',
          ),
          value: anyValue,
          from: fc.constantFrom('/metadata/a', '/x'),
        },
        { requiredKeys: ['op', 'path'] },
      ),
      { maxLength: 3 },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);
const purgeDoc = fc.record(
  {
    resource_types: fc.oneof(
      fc.constantFrom(['messages'], ['subscriptions'], ['messages', 'subscriptions'], ['bogus'], [], 'messages'),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);
const shareDoc = fc.record(
  {
    paths: fc.oneof(fc.subarray(['messages', 'subscriptions', 'claims', 'bogus']), anyValue),
    methods: fc.oneof(fc.subarray(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']), anyValue),
    expires: fc.constantFrom('2030-01-01T00:00:00', 'yesterday', '1999-01-01T00:00:00', 5),
  },
  { requiredKeys: [] },
);
// Pools the fuzzer makes take no new queues (weight 0 when valid): deleting a pool that holds
// queues makes them unavailable by design (503), which is not what this fuzzer looks for.
export const poolDoc = fc.record(
  {
    weight: fc.constantFrom(0, 0, 0, -1, 'x', 1.5),
    uri: fc.constantFrom('memory://fz', 'memory://', 'bogus://x', '', 5, 'redis://127.0.0.1:1'),
    flavor: fc.constantFrom('fzf', 'nope', 5, null),
    options: fc.oneof(fc.constant({}), anyValue),
  },
  { requiredKeys: [] },
);
/** Quotas small enough that posts and creates of the fuzzed projects meet them (403s that must write nothing). */
const quotaValue = fc.constantFrom<unknown>(0, 1, 3, 20, 100_000, null, -1, 'x', 1.5);
export const quotaDoc = fc.record(
  { max_queues: quotaValue, max_messages: quotaValue, max_bytes: quotaValue, other: anyValue },
  { requiredKeys: [] },
);
const quotaProject = fc.constantFrom<string>(PROJECTS[0], PROJECTS[0], PROJECTS[1], 'other', 'p'.repeat(300), '\u0001');

export const flavorDoc = fc.record(
  {
    pool_list: fc.constantFrom(['fz1'], ['fz1', 'fz2'], [], ['nope'], 'fz1', [5]),
    capabilities: fc.oneof(fc.constant({}), anyValue),
  },
  { requiredKeys: [] },
);
/** Pools and flavors the fuzzer may change or delete; the setup's own are only read (and PUT: 409). */
export const ownPool = fc.constantFrom('fz1', 'fz2', 'fz1', 'a'.repeat(70), 'bad name', '');
export const anyPool = fc.oneof(ownPool, fc.constantFrom(...SETUP_POOLS, 'default', 'nope'));
export const ownFlavor = fc.constantFrom('fzf', 'fzf', 'a'.repeat(70), 'bad name');
export const anyFlavor = fc.oneof(ownFlavor, fc.constantFrom(SETUP_FLAVOR, 'nope'));

/** Spool entry ids: well formed (of no entry: the fuzzed spool is empty) and not. */
const spoolId = fc.constantFrom('0123456789abcdef0123456789abcdef-0', 'nope', '', 'a,b');
const spoolDoc = fc.record(
  {
    ids: fc.oneof(fc.array(spoolId, { maxLength: 2 }), anyValue),
    reason: fc.oneof(fc.constant('why'), anyValue),
    from: fc.constantFrom<unknown>('removed', 'quarantined', 'x', 1),
    other: anyValue,
  },
  { requiredKeys: [] },
);

/** The admin token, most of the time. */
const adminHeader = fc
  .constantFrom(ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, null, 'wrong', '')
  .map((token) => ({ 'x-admin-token': token }));

/** An id as a path segment: references as they are (resolved later), anything else encoded. */
const segment = (id: string) => (/^@\w+:\d+$/.test(id) ? id : enc(id));
const item = (prefix: string, name: string) => `${prefix}/${enc(name)}`;

function withQuery(part: fc.Arbitrary<Omit<Part, 'query'>>, query: fc.Arbitrary<Part['query']>): fc.Arbitrary<Part> {
  return fc.tuple(part, query).map(([p, q]) => (q === undefined ? p : { ...p, query: q }));
}

const plain =
  (path: (prefix: string) => string): Maker =>
  (prefix) =>
    fc.constant({ path: path(prefix) });
const named =
  (suffix: string, body?: fc.Arbitrary<Body | undefined>): Maker =>
  (prefix) =>
    fc
      .tuple(queueName, body ?? fc.constant(undefined))
      .map(([name, b]) => ({ path: `${item(prefix, name)}${suffix}`, body: b }));
const withId =
  (
    suffix: string,
    kind: 'message' | 'claim' | 'subscription',
    body?: fc.Arbitrary<Body | undefined>,
    tail = '',
  ): Maker =>
  (prefix) =>
    fc
      .tuple(queueName, idRef(kind), body ?? fc.constant(undefined))
      .map(([name, id, b]) => ({ path: `${item(prefix, name)}${suffix}/${segment(id)}${tail}`, body: b }));
const admin =
  (
    path: (name: string) => string,
    names: fc.Arbitrary<string>,
    body?: fc.Arbitrary<Body | undefined>,
    query?: fc.Arbitrary<Part['query']>,
  ): Maker =>
  () =>
    fc
      .tuple(names, body ?? fc.constant(undefined), adminHeader, query ?? fc.constant(undefined))
      .map(([name, b, h, q]) => ({
        path: path(name),
        body: b,
        headers: h,
        ...(q !== undefined ? { query: q } : {}),
      }));
const pageQuery = fc.tuple(marker, queryInt(1, 2, 5), queryBool).map(([m, l, d]): Part['query'] => [
  ['marker', m],
  ['limit', l],
  ['detailed', d],
]);

/** One entry per route: `{c}` is a collection (/v2/queues, /v2/topics, /v1.1/queues), `{v}` a version. */
export const GENERATORS: Readonly<Record<string, Maker>> = {
  'GET /': plain(() => '/'),
  'GET /console': plain(() => '/console'),
  // The console's files, and names it does not have (a plain 404, in Zaqar's error body).
  'GET /console/:file': () =>
    fc
      .constantFrom('index.html', 'console.js', 'nope.js', '..%2Fpackage.json')
      .map((name) => ({ path: `/console/${name}` })),
  'GET /console/vendor/:file': () =>
    fc.constantFrom('preact.mjs', 'htm.mjs', 'nope.mjs').map((name) => ({ path: `/console/vendor/${name}` })),
  'GET /healthz': plain(() => '/healthz'),
  'HEAD /healthz': plain(() => '/healthz'),
  'GET /readyz': plain(() => '/readyz'),
  'HEAD /readyz': plain(() => '/readyz'),
  'GET {v}/': plain((v) => `${v}/`),
  'GET {v}/ping': plain((v) => `${v}/ping`),
  'HEAD {v}/ping': plain((v) => `${v}/ping`),
  'GET {v}/health': (v) => adminHeader.map((headers) => ({ path: `${v}/health`, headers })),

  'GET {c}': (c) =>
    fc
      .tuple(
        marker,
        queryInt(1, 2, 5, 20),
        queryBool,
        fc.constantFrom(undefined, 'fq', 'fq1', ''),
        queryBool,
        fc.constantFrom(undefined, undefined, ['x', '1'], ['description', 'x'], ['_default_message_ttl', '60']),
      )
      .map(([m, l, d, n, w, f]) => ({
        path: c,
        query: [
          ['marker', m],
          ['limit', l],
          ['detailed', d],
          ['name', n],
          ['with_count', w],
          ...(f ? [f as [string, string]] : []),
        ],
      })),
  'PUT {c}/:name': named('', bodyOf(metadata)),
  'GET {c}/:name': named(''),
  'DELETE {c}/:name': named(''),
  'PATCH {c}/:name': (c) =>
    fc
      .tuple(queueName, bodyOf(patchOps), fc.constantFrom(PATCH_TYPE, PATCH_TYPE, PATCH_TYPE, 'application/json', null))
      .map(([name, body, type]) => ({ path: item(c, name), body, headers: { 'content-type': type } })),
  'GET {c}/:name/stats': named('/stats'),
  'POST {c}/:name/purge': named('/purge', bodyOf(purgeDoc)),
  'POST {c}/:name/share': named('/share', bodyOf(shareDoc)),

  'POST {c}/:name/messages': named('/messages', bodyOf(messagesDoc, 270_000)),
  'GET {c}/:name/messages': (c) =>
    withQuery(
      named('/messages')(c),
      fc
        .tuple(marker, queryInt(1, 2, 10, 20), queryBool, queryBool, queryBool, fc.option(ids, { freq: 4 }))
        .map(([m, l, e, ic, id, i]) => [
          ['marker', m],
          ['limit', l],
          ['echo', e],
          ['include_claimed', ic],
          ['include_delayed', id],
          ['ids', i ?? undefined],
        ]),
    ),
  'DELETE {c}/:name/messages': (c) =>
    withQuery(
      named('/messages')(c),
      fc
        .tuple(
          fc.option(ids, { freq: 2 }),
          fc.option(queryInt(1, 2, 5), { freq: 2 }),
          fc.option(idRef('claim'), { freq: 1 }),
        )
        .map(([i, p, claim]) => [
          ['ids', i ?? undefined],
          ['pop', p ?? undefined],
          ['claim_id', claim ?? undefined],
        ]),
    ),
  'GET {c}/:name/messages/:id': withId('/messages', 'message'),
  'DELETE {c}/:name/messages/:id': (c) =>
    withQuery(
      withId('/messages', 'message')(c),
      fc.option(idRef('claim'), { freq: 2 }).map((claim) => [['claim_id', claim ?? undefined]]),
    ),

  'POST {c}/:name/claims': (c) =>
    withQuery(
      named('/claims', bodyOf(claimDoc))(c),
      queryInt(1, 2, 5, 20).map((l) => [['limit', l]]),
    ),
  'GET {c}/:name/claims/:id': withId('/claims', 'claim'),
  'PATCH {c}/:name/claims/:id': withId('/claims', 'claim', bodyOf(claimDoc)),
  'DELETE {c}/:name/claims/:id': withId('/claims', 'claim'),

  'GET {c}/:name/subscriptions': (c) =>
    withQuery(
      named('/subscriptions')(c),
      fc.tuple(marker, queryInt(1, 2, 5)).map(([m, l]) => [
        ['marker', m],
        ['limit', l],
      ]),
    ),
  'POST {c}/:name/subscriptions': named('/subscriptions', bodyOf(subscriptionDoc)),
  'GET {c}/:name/subscriptions/:id': withId('/subscriptions', 'subscription'),
  'PATCH {c}/:name/subscriptions/:id': withId('/subscriptions', 'subscription', bodyOf(subscriptionDoc)),
  'DELETE {c}/:name/subscriptions/:id': withId('/subscriptions', 'subscription'),
  'PUT {c}/:name/subscriptions/:id/confirm': withId(
    '/subscriptions',
    'subscription',
    bodyOf(fc.record({ confirmed: fc.constantFrom(true, false, 'yes', 1) }, { requiredKeys: [] })),
    '/confirm',
  ),

  'GET /v2/pools': admin(() => '/v2/pools', fc.constant(''), undefined, pageQuery),
  'GET /v2/pools/:name': admin(
    (n) => `/v2/pools/${enc(n)}`,
    anyPool,
    undefined,
    queryBool.map((d) => [['detailed', d]]),
  ),
  'PUT /v2/pools/:name': admin(
    (n) => `/v2/pools/${enc(n)}`,
    fc.oneof(ownPool, fc.constantFrom(...SETUP_POOLS)),
    bodyOf(poolDoc),
  ),
  'PATCH /v2/pools/:name': admin((n) => `/v2/pools/${enc(n)}`, ownPool, bodyOf(poolDoc)),
  'DELETE /v2/pools/:name': admin((n) => `/v2/pools/${enc(n)}`, ownPool),
  'GET /v2/flavors': admin(() => '/v2/flavors', fc.constant(''), undefined, pageQuery),
  'GET /v2/flavors/:name': admin((n) => `/v2/flavors/${enc(n)}`, anyFlavor),
  'PUT /v2/flavors/:name': admin(
    (n) => `/v2/flavors/${enc(n)}`,
    fc.oneof(ownFlavor, fc.constant(SETUP_FLAVOR)),
    bodyOf(flavorDoc),
  ),
  'PATCH /v2/flavors/:name': admin((n) => `/v2/flavors/${enc(n)}`, ownFlavor, bodyOf(flavorDoc)),
  'DELETE /v2/flavors/:name': admin((n) => `/v2/flavors/${enc(n)}`, ownFlavor),
  'GET /v2/quotas/:project': admin((p) => `/v2/quotas/${enc(p)}`, quotaProject),
  'PUT /v2/quotas/:project': admin((p) => `/v2/quotas/${enc(p)}`, quotaProject, bodyOf(quotaDoc)),
  'DELETE /v2/quotas/:project': admin((p) => `/v2/quotas/${enc(p)}`, quotaProject),
  // Moves only to pools that cannot take the queue (a real move runs on in the background and
  // would change the state between two snapshots): the refusals are what is fuzzed here.
  'POST {c}/:name/move': (c) =>
    fc
      .tuple(
        queueName,
        bodyOf(
          fc.record(
            { pool: fc.constantFrom('nope', '', 5, null), claim_wait: field(0, 10), other: anyValue },
            { requiredKeys: [] },
          ),
        ),
        adminHeader,
      )
      .map(([name, body, headers]) => ({ path: `${item(c, name)}/move`, body, headers })),
  'POST {c}/:name/redrive': named(
    '/redrive',
    bodyOf(
      fc.record(
        { ids: fc.oneof(fc.array(idRef('message'), { maxLength: 3 }), anyValue), other: anyValue },
        { requiredKeys: [] },
      ),
    ),
  ),
  'GET /v2/notifications/spool': admin(
    () => '/v2/notifications/spool',
    fc.constant(''),
    undefined,
    fc.option(spoolId, { freq: 2 }).map((id) => [['ids', id ?? undefined]]),
  ),
  'POST /v2/notifications/spool/send': admin(() => '/v2/notifications/spool/send', fc.constant(''), bodyOf(spoolDoc)),
  'POST /v2/notifications/spool/freeze': admin(
    () => '/v2/notifications/spool/freeze',
    fc.constant(''),
    bodyOf(spoolDoc),
  ),
  'POST /v2/notifications/spool/remove': admin(
    () => '/v2/notifications/spool/remove',
    fc.constant(''),
    bodyOf(spoolDoc),
  ),
  'POST /v2/notifications/spool/recover': admin(
    () => '/v2/notifications/spool/recover',
    fc.constant(''),
    bodyOf(spoolDoc),
  ),
  'GET {c}/:name/move': (c) =>
    fc.tuple(queueName, adminHeader).map(([name, headers]) => ({ path: `${item(c, name)}/move`, headers })),
};

const COLLECTION = /^\/v(?:2|1\.1)\/(?:queues|topics)(?=\/|$)/;
const VERSION = /^\/v(?:2|1\.1)(?=\/)/;

/** The table key of a route of the app and the prefix its generator fills in. */
export function generatorKey(method: string, url: string): { key: string; prefix: string } {
  for (const key of [`${method} ${url}`]) if (key in GENERATORS) return { key, prefix: '' };
  const collection = COLLECTION.exec(url)?.[0];
  if (collection !== undefined) {
    return { key: `${method} {c}${url.slice(collection.length)}`, prefix: collection };
  }
  const version = VERSION.exec(url)?.[0];
  if (version !== undefined) return { key: `${method} {v}${url.slice(version.length)}`, prefix: version };
  return { key: `${method} ${url}`, prefix: '' };
}

export const clientId = fc.oneof(
  { weight: 30, arbitrary: fc.constant<string | string[] | null>(CLIENT) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | string[] | null>(
      null,
      'not-a-uuid',
      '',
      CLIENT.toUpperCase(),
      `{${CLIENT}}`,
      `urn:uuid:${CLIENT}`,
      CLIENT.replaceAll('-', ''),
      [CLIENT, '8d1b5bc6-1f0b-4b8c-9c53-0f4b2d1f7a11'],
      'ü'.repeat(36),
    ),
  },
);
export const project = fc.oneof(
  { weight: 24, arbitrary: fc.constant<string | string[] | null>(PROJECTS[0]) },
  { weight: 4, arbitrary: fc.constant<string | string[] | null>(PROJECTS[1]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | string[] | null>(null, '', 'p'.repeat(257), 'bad project', [
      PROJECTS[0],
      PROJECTS[1],
    ]),
  },
);
const contentType = fc.oneof(
  { weight: 20, arbitrary: fc.constant<string | null | undefined>(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | null | undefined>(
      null,
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      PATCH_TYPE,
      'multipart/form-data; boundary=x',
    ),
  },
);
/** Query noise appended to a request's own query: repeated, empty, huge, malformed parameters. */
const queryNoise = fc.oneof(
  { weight: 20, arbitrary: fc.constant('') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'limit=1&limit=2',
      'limit=',
      'limit=99999999999999999999',
      'limit=1000000',
      'detailed=true&detailed=false',
      '&&',
      '=x',
      '%zz',
      'a[b]=c',
      'ids=',
      'marker=%00',
      'echo=%F0%9F%A6%86',
      'pop=1&ids=x',
    ),
  },
);

function queryText(query: Part['query'], noise: string): string {
  const parts = (query ?? []).flatMap(([k, v]) => (v === undefined ? [] : [`${enc(k)}=${enc(v)}`]));
  if (noise !== '') parts.push(noise);
  // Id references stay readable so that they are resolved after encoding (ids are URL-safe).
  return parts.length === 0 ? '' : `?${parts.join('&')}`.replace(/%40(message|claim|subscription)%3A(\d+)/g, '@$1:$2');
}

/** Requests for one route of the app, with identity and transport noise around the route's own. */
export function requestsFor(method: string, url: string): fc.Arbitrary<HttpRequest> | null {
  const { key, prefix } = generatorKey(method, url);
  const maker = GENERATORS[key];
  if (maker === undefined) return null;
  // Ids inside the query are resolved later; encoding keeps `@` and `:` intact enough (decoded again).
  return fc.tuple(maker(prefix), clientId, project, contentType, queryNoise).map(([part, id, proj, type, noise]) => {
    const headers: Record<string, string | string[] | null> = { 'client-id': id, 'x-project-id': proj };
    if (type !== undefined) headers['content-type'] = type;
    Object.assign(headers, part.headers ?? {});
    return {
      route: key,
      method,
      url: part.path + queryText(part.query, noise),
      headers,
      ...(part.body !== undefined ? { body: part.body } : {}),
    };
  });
}

/** Any method on any of the app's paths (405s and the routes themselves), and paths it does not have. */
export function noiseRequests(paths: readonly string[]): fc.Arbitrary<HttpRequest> {
  const path = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...paths) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '/v3/queues',
        '/v2/queues/fq1/nothing',
        '/v2//queues',
        '/%',
        '/v2/queues/fq1/messages/x/y',
      ),
    },
  );
  return fc
    .tuple(
      fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path,
      fc.option(badBody, { freq: 2 }),
    )
    .map(([method, p, body]) => ({
      route: 'any',
      method,
      url: p.replace(/:name/g, 'fq1').replace(/:id/g, '@message:0'),
      headers: { 'client-id': CLIENT, 'x-project-id': PROJECTS[0], 'x-admin-token': ADMIN_TOKEN },
      ...(body !== null ? { body } : {}),
    }));
}
