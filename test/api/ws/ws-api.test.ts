import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { request } from 'undici';
import WebSocket from 'ws';
import { loadServerConfig, type RunningServer as QueueServer, startQueueServer } from '../../../src/server/index.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../fixtures/webhook-receiver.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const PROJECT = 'ws-test';
const HEADERS = { 'Client-ID': CLIENT, 'X-Project-ID': PROJECT };
const ADMIN_TOKEN = 'an-admin-token-of-some-length';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

interface Answer {
  request: { action: string | null; body: Record<string, unknown>; headers: Record<string, unknown>; api: string };
  body: Record<string, unknown> & { messages?: Record<string, unknown>[] };
  headers: { status: number };
}

/** A WebSocket client that sends Zaqar requests, in JSON (text) or MessagePack (binary) frames. */
class Client {
  readonly answers: Answer[] = [];
  readonly pushed: Record<string, unknown>[] = [];
  readonly binaryFrames: boolean[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      this.binaryFrames.push(binary);
      const doc = (binary ? packr.unpack(data as Buffer) : JSON.parse(data.toString())) as Record<string, unknown>;
      if ('request' in doc && 'headers' in doc) this.answers.push(doc as unknown as Answer);
      else this.pushed.push(doc);
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Client(ws);
  }

  /** Waits for a condition; 30 s is a deadline for a busy machine. */
  async wait(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends raw bytes or text, returns the next answer. */
  async raw(frame: string | Buffer, binary: boolean): Promise<Answer> {
    const before = this.answers.length;
    this.ws.send(frame, { binary });
    await this.wait(() => this.answers.length > before, 'an answer');
    return this.answers[before] as Answer;
  }

  send(action: string, body?: Record<string, unknown>, binary = false, headers: Record<string, string> = HEADERS) {
    const doc: Record<string, unknown> = { action, headers };
    if (body !== undefined) doc.body = body;
    return this.raw(binary ? packr.pack(doc) : JSON.stringify(doc), binary);
  }

  close(): void {
    this.ws.close();
  }
}

let server: QueueServer;
let receiver: WebhookReceiver;
const dirs: string[] = [];
const clients: Client[] = [];

async function client(url = server.wsUrl): Promise<Client> {
  const c = await Client.open(url);
  clients.push(c);
  return c;
}

async function http(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${server.url}${path}`, {
    method,
    headers: { 'client-id': CLIENT, 'x-project-id': PROJECT, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-ws-'));
  dirs.push(dir);
  const file = join(dir, 'posthorn.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: 'memory',
      log_level: 'silent',
      data: join(dir, 'data'),
      websocket: { max_frame_size: 65_536 },
      pooling: {},
      admin: { token: ADMIN_TOKEN },
    }),
  );
  server = await startQueueServer(loadServerConfig({ env: {}, cwd: dir, flags: { config: file, port: 0, wsPort: 0 } }));
  receiver = await startWebhookReceiver();
});

after(async () => {
  for (const c of clients) c.ws.terminate();
  await server?.close();
  await receiver?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

for (const binary of [false, true]) {
  const encoding = binary ? 'MessagePack' : 'JSON';
  const q = binary ? 'orders-bin' : 'orders-json';

  describe(`ws: every action over ${encoding} frames`, () => {
    it('answers the service actions (home document, health, ping, authenticate)', async () => {
      const c = await client();
      const home = await c.send('get_home_doc', undefined, binary, {});
      assert.equal(home.headers.status, 200);
      assert.ok((home.body.resources as Record<string, unknown>)['rel/queues'], 'the v2 home document');
      assert.deepEqual(home.request, { action: 'get_home_doc', body: {}, headers: {}, api: 'v2' });
      // Health is private: this server has an admin token, so it needs it.
      assert.equal((await c.send('check_node_health', undefined, binary, {})).headers.status, 403);
      const health = await c.send('check_node_health', undefined, binary, { 'X-Admin-Token': ADMIN_TOKEN });
      assert.equal(health.headers.status, 200);
      assert.equal(health.body.storage_reachable, true);
      assert.equal((await c.send('ping_node', undefined, binary, {})).headers.status, 204);
      const auth = await c.send('authenticate', undefined, binary, { 'X-Project-ID': PROJECT, 'X-Auth-Token': 'x' });
      assert.equal(auth.headers.status, 200);
      assert.equal(
        c.binaryFrames.every((b) => b === binary),
        true,
        'answers mirror the request encoding',
      );
    });

    it('creates, reads, lists, measures and deletes queues', async () => {
      const c = await client();
      const created = await c.send('queue_create', { queue_name: q, metadata: { team: 'ws' } }, binary);
      assert.equal(created.headers.status, 201);
      assert.equal((await c.send('queue_create', { queue_name: q }, binary)).headers.status, 204);
      const got = await c.send('queue_get', { queue_name: q }, binary);
      assert.equal(got.headers.status, 200);
      assert.equal(got.body.team, 'ws');
      assert.equal(got.body._default_message_ttl, 3600, 'reserved defaults filled in, as over HTTP');
      const listed = await c.send('queue_list', { detailed: true }, binary);
      assert.ok((listed.body.queues as { name: string }[]).some((x) => x.name === q));
      const stats = await c.send('queue_get_stats', { queue_name: q }, binary);
      assert.deepEqual(stats.body, { messages: { claimed: 0, free: 0, total: 0 } });
      const missing = await c.send('queue_get', { queue_name: 'no-such-queue' }, binary);
      assert.equal(missing.headers.status, 404);
      const bad = await c.send('queue_create', { queue_name: 'bad name!' }, binary);
      assert.equal(bad.headers.status, 400);
      assert.match(String(bad.body.error), /name/);
    });

    it('message_post with an idempotency key (body or header) answers a repeat with the first ids', async () => {
      const c = await client();
      const queue = `${q}-idem`;
      const messages = [{ body: { n: 1 }, ttl: 300 }, { body: 'two' }];
      const first = await c.send('message_post', { queue_name: queue, messages, idempotency_key: 'ws-1' }, binary);
      assert.equal(first.headers.status, 201);
      const byHeader = await c.send('message_post', { queue_name: queue, messages }, binary, {
        ...HEADERS,
        'Idempotency-Key': 'ws-1',
      });
      assert.equal(byHeader.headers.status, 201);
      assert.deepEqual(byHeader.body.message_ids, first.body.message_ids);
      const reused = await c.send(
        'message_post',
        { queue_name: queue, messages: [{ body: 'other' }], idempotency_key: 'ws-1' },
        binary,
      );
      assert.equal(reused.headers.status, 422);
      assert.match(String(reused.body.error ?? reused.body.description), /ws-1/);
      const listed = await c.send('message_list', { queue_name: queue, echo: true }, binary);
      assert.deepEqual(
        (listed.body.messages ?? []).map((m) => m.body),
        [{ n: 1 }, 'two'],
      );
    });

    it('posts, lists, gets, claims, renews, releases and deletes messages', async () => {
      const c = await client();
      const posted = await c.send(
        'message_post',
        { queue_name: q, messages: [{ body: { n: 1 }, ttl: 300 }, { body: { n: 2 } }, { body: 3 }] },
        binary,
      );
      assert.equal(posted.headers.status, 201);
      const ids = posted.body.message_ids as string[];
      assert.equal(ids.length, 3);
      const listed = await c.send('message_list', { queue_name: q, echo: true }, binary);
      assert.deepEqual(
        (listed.body.messages ?? []).map((m) => m.body),
        [{ n: 1 }, { n: 2 }, 3],
      );
      assert.deepEqual(Object.keys(listed.body.messages?.[0] ?? {}).sort(), ['age', 'body', 'claim_id', 'id', 'ttl']);
      const one = await c.send('message_get', { queue_name: q, message_id: ids[0] }, binary);
      assert.deepEqual((one.body.messages as unknown as { body: unknown }).body, { n: 1 });
      const many = await c.send('message_get_many', { queue_name: q, message_ids: ids.slice(1) }, binary);
      assert.equal(many.body.messages?.length, 2);
      const claim = await c.send('claim_create', { queue_name: q, limit: 2, ttl: 60, grace: 60 }, binary);
      assert.equal(claim.headers.status, 201);
      const claimId = claim.body.claim_id as string;
      assert.equal(claim.body.messages?.length, 2);
      assert.equal(claim.body.messages?.[0]?.claim_id, claimId);
      const got = await c.send('claim_get', { queue_name: q, claim_id: claimId }, binary);
      assert.equal(got.headers.status, 200);
      assert.equal(got.body.ttl, 60);
      assert.equal(
        (await c.send('claim_update', { queue_name: q, claim_id: claimId, ttl: 120 }, binary)).headers.status,
        204,
      );
      const claimed = claim.body.messages?.[0]?.id as string;
      const refused = await c.send('message_delete', { queue_name: q, message_id: claimed }, binary);
      assert.equal(refused.headers.status, 403, 'a claimed message needs its claim id, as over HTTP');
      const deleted = await c.send(
        'message_delete',
        { queue_name: q, message_id: claimed, claim_id: claimId, fenced: true },
        binary,
      );
      assert.equal(deleted.headers.status, 204, 'fenced, under its live claim');
      const again = { queue_name: q, message_id: claimed, claim_id: claimId };
      assert.equal((await c.send('message_delete', again, binary)).headers.status, 204, "gone: Zaqar's 204");
      assert.equal(
        (await c.send('message_delete', { ...again, fenced: true }, binary)).headers.status,
        404,
        'gone, fenced: refused, as over HTTP',
      );
      assert.equal((await c.send('claim_delete', { queue_name: q, claim_id: claimId }, binary)).headers.status, 204);
      assert.equal((await c.send('claim_get', { queue_name: q, claim_id: claimId }, binary)).headers.status, 404);
      const popped = await c.send('message_delete_many', { queue_name: q, pop: 1 }, binary);
      assert.equal(popped.headers.status, 200);
      assert.equal(popped.body.messages?.length, 1);
      const rest = (await c.send('message_list', { queue_name: q, echo: true }, binary)).body.messages ?? [];
      assert.equal(
        (await c.send('message_delete_many', { queue_name: q, message_ids: rest.map((m) => m.id) }, binary)).headers
          .status,
        204,
      );
      const both = await c.send('message_delete_many', { queue_name: q, message_ids: ['a'], pop: 1 }, binary);
      assert.equal(both.headers.status, 400);
      const empty = await c.send('claim_create', { queue_name: q }, binary);
      assert.equal(empty.headers.status, 204);
      const tooLong = await c.send('message_post', { queue_name: q, messages: [{ body: 1, ttl: 10 }] }, binary);
      assert.equal(tooLong.headers.status, 400, 'the same TTL rule as HTTP');
      const viaHttp = await http('POST', `/v2/queues/${q}/messages`, { messages: [{ body: 1, ttl: 10 }] });
      assert.equal(viaHttp.status, 400);
      assert.equal(tooLong.body.error, viaHttp.json.description, 'the same words as HTTP');
    });

    it('deletes many under claim_ids only what those claims hold, and says which with fenced', async () => {
      const c = await client();
      const fq = `${q}-fenced`;
      const posted = await c.send(
        'message_post',
        { queue_name: fq, messages: [1, 2, 3].map((body) => ({ body })) },
        binary,
      );
      const [m1, m2, m3] = posted.body.message_ids as [string, string, string];
      const claimOf = async (limit: number) =>
        (await c.send('claim_create', { queue_name: fq, limit, ttl: 60, grace: 60 }, binary)).body.claim_id as string;
      const released = await claimOf(1);
      await c.send('claim_delete', { queue_name: fq, claim_id: released }, binary);
      const other = await claimOf(1);
      const held = await claimOf(1);
      const all = [m1, m2, m3];
      const fenced = await c.send(
        'message_delete_many',
        { queue_name: fq, message_ids: all, claim_ids: [released, held], fenced: true },
        binary,
      );
      assert.equal(fenced.headers.status, 200);
      assert.deepEqual(fenced.body, { deleted: [m2], not_deleted: [m1, m3] }, 'm1 moved to another consumer');
      const plain = await c.send(
        'message_delete_many',
        { queue_name: fq, message_ids: all, claim_ids: [other] },
        binary,
      );
      assert.equal(plain.headers.status, 204, "Zaqar's answer");
      assert.deepEqual(plain.body, {});
      const left = await c.send('message_get_many', { queue_name: fq, message_ids: all }, binary);
      assert.deepEqual(
        (left.body.messages ?? []).map((m) => m.id),
        [m3],
        'the free message stays',
      );
      const withPop = await c.send('message_delete_many', { queue_name: fq, pop: 1, claim_ids: [held] }, binary);
      assert.equal(withPop.headers.status, 400);
      const notList = await c.send(
        'message_delete_many',
        { queue_name: fq, message_ids: [m3], claim_ids: held },
        binary,
      );
      assert.equal(notList.headers.status, 400, 'claim_ids must be a list');
    });

    it('subscribes a webhook, shows its delivery status, lists and unsubscribes; purges and deletes the queue', async () => {
      const c = await client();
      const path = `/ws-${encoding}`;
      const made = await c.send(
        'subscription_create',
        { queue_name: q, subscriber: receiver.url(path), ttl: 600 },
        binary,
      );
      assert.equal(made.headers.status, 201);
      const id = made.body.subscription_id as string;
      await c.send('message_post', { queue_name: q, messages: [{ body: 'hook' }] }, binary);
      const [hit] = await receiver.until(path, 1);
      assert.equal((hit?.json as { body?: string } | undefined)?.body, 'hook');
      await server.notifier.whenIdle();
      const got = await c.send('subscription_get', { queue_name: q, subscription_id: id }, binary);
      assert.equal(got.body.subscriber, receiver.url(path));
      assert.deepEqual(got.body.delivery_status, { delivered: 1, pending: 0, failed: 0 });
      const overHttp = await http('GET', `/v2/queues/${q}/subscriptions/${id}`);
      assert.deepEqual(overHttp.json.delivery_status, { delivered: 1, pending: 0, failed: 0 });
      const listed = await c.send('subscription_list', { queue_name: q }, binary);
      assert.deepEqual(
        (listed.body.subscriptions as { id: string }[]).map((s) => s.id),
        [id],
      );
      const refused = await c.send('subscription_create', { queue_name: q, subscriber: 'gopher://x' }, binary);
      assert.equal(refused.headers.status, 400);
      assert.equal(
        (await c.send('subscription_delete', { queue_name: q, subscription_id: id }, binary)).headers.status,
        204,
      );
      assert.equal(
        (await c.send('subscription_get', { queue_name: q, subscription_id: id }, binary)).headers.status,
        404,
      );
      assert.equal(
        (await c.send('queue_purge', { queue_name: q, resource_types: ['messages'] }, binary)).headers.status,
        204,
      );
      assert.equal((await c.send('queue_delete', { queue_name: q }, binary)).headers.status, 204);
      assert.equal((await c.send('queue_get', { queue_name: q }, binary)).headers.status, 404);
    });

    it('queue_redrive moves dead letters back (all, or message_ids), and refuses a queue without one', async () => {
      const c = await client();
      const work = `${q}-redrive`;
      const dlq = `${work}-dlq`;
      assert.equal(
        (await c.send('queue_create', { queue_name: work, metadata: { _dead_letter_queue: dlq } }, binary)).headers
          .status,
        201,
      );
      const posted = await c.send(
        'message_post',
        { queue_name: dlq, messages: [{ body: 'a' }, { body: 'b' }] },
        binary,
      );
      const ids = posted.body.message_ids as string[];
      const one = await c.send('queue_redrive', { queue_name: work, message_ids: [ids[1]] }, binary);
      assert.equal(one.headers.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.count, 1);
      assert.equal((one.body.moved as { from: string }[])[0]?.from, ids[1]);
      const rest = await c.send('queue_redrive', { queue_name: work }, binary);
      assert.equal(rest.body.count, 1);
      const back = await c.send('message_list', { queue_name: work, echo: true }, binary);
      assert.deepEqual(
        back.body.messages?.map((m) => m.body),
        ['b', 'a'],
      );
      const refused = await c.send('queue_redrive', { queue_name: dlq }, binary);
      assert.equal(refused.headers.status, 400);
      assert.match(String(refused.body.error), /no dead-letter queue/);
    });

    it('pushes posted messages to a socket that subscribes itself, in its encoding, until it closes', async () => {
      const listener = await client();
      const made = await listener.send('subscription_create', { queue_name: `${q}-push`, ttl: 600 }, binary);
      assert.equal(made.headers.status, 201);
      const id = made.body.subscription_id as string;
      const producer = await client();
      await producer.send('message_post', { queue_name: `${q}-push`, messages: [{ body: { hello: 'socket' } }] });
      await listener.wait(() => listener.pushed.length >= 1, 'a pushed notification');
      assert.deepEqual(listener.pushed[0], {
        ttl: 3600,
        body: { hello: 'socket' },
        Message_Type: 'Notification',
        queue_name: `${q}-push`,
      });
      assert.equal(listener.binaryFrames.at(-1), binary, 'the push comes in the encoding of the subscription request');
      await http('POST', `/v2/queues/${q}-push/messages`, { messages: [{ body: 'over http' }] });
      await listener.wait(() => listener.pushed.length >= 2, 'a second push');
      const sub = await producer.send('subscription_get', { queue_name: `${q}-push`, subscription_id: id });
      assert.equal(sub.body.confirmed, true, 'a socket is its own confirmation');
      listener.close();
      await producer.wait(() => listener.closed !== null, 'the close');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const gone = await producer.send('subscription_get', { queue_name: `${q}-push`, subscription_id: id });
        if (gone.headers.status === 404) break;
        if (Date.now() > deadline) assert.fail('the socket subscription outlived its socket');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });

    it('answers pool and flavor actions through the pools admin, behind the admin token', async () => {
      const c = await client();
      const refused = await c.send('pool_list', { pool_name: 'x' }, binary);
      assert.equal(refused.headers.status, 403);
      const admin = { ...HEADERS, 'X-Admin-Token': ADMIN_TOKEN };
      const pools = await c.send('pool_list', { pool_name: 'x' }, binary, admin);
      assert.equal(pools.headers.status, 200);
      assert.ok(Array.isArray(pools.body.pools));
      const flavors = await c.send('flavor_list', { flavor_name: 'x' }, binary, admin);
      assert.equal(flavors.headers.status, 200);
      assert.ok(Array.isArray(flavors.body.flavors));
      assert.equal((await c.send('pool_get', { pool_name: 'none-such' }, binary, admin)).headers.status, 404);
      assert.equal((await c.send('flavor_get', { flavor_name: 'none-such' }, binary, admin)).headers.status, 404);
      const badPool = await c.send('pool_create', { pool_name: 'p1', weight: 1, uri: 'nope://x' }, binary, admin);
      assert.equal(badPool.headers.status, 400);
      const pool = `mem-${encoding}`;
      const made = await c.send('pool_create', { pool_name: pool, weight: 10, uri: 'memory://' }, binary, admin);
      assert.equal(made.headers.status, 201, JSON.stringify(made.body));
      const got = await c.send('pool_get', { pool_name: pool }, binary, admin);
      assert.equal(got.headers.status, 200);
      assert.equal(got.body.weight, 10);
      const changed = await c.send('pool_update', { pool_name: pool, weight: 20 }, binary, admin);
      assert.equal(changed.headers.status, 200);
      assert.equal(changed.body.weight, 20);
      const nothing = await c.send('pool_update', { pool_name: pool }, binary, admin);
      assert.equal(nothing.headers.status, 400, 'the pools admin checks the body, as for HTTP');
      const flavor = `fl-${encoding}`;
      const fmade = await c.send('flavor_create', { flavor_name: flavor, pool_name: pool }, binary, admin);
      assert.equal(fmade.headers.status, 201, JSON.stringify(fmade.body));
      const fgot = await c.send('flavor_get', { flavor_name: flavor }, binary, admin);
      assert.deepEqual(fgot.body.pool_list, [pool]);
      const inUse = await c.send('pool_delete', { pool_name: pool }, binary, admin);
      assert.equal(inUse.headers.status, 403, 'a pool a flavor lists cannot be deleted');
      const unknownPool = await c.send('flavor_update', { flavor_name: flavor, pool_name: 'none-such' }, binary, admin);
      assert.equal(unknownPool.headers.status, 400);
      assert.equal((await c.send('flavor_delete', { flavor_name: flavor }, binary, admin)).headers.status, 204);
      assert.equal((await c.send('pool_delete', { pool_name: pool }, binary, admin)).headers.status, 204);
      assert.equal((await c.send('pool_get', { pool_name: pool }, binary, admin)).headers.status, 404);
    });
  });
}

describe('ws: bad frames, and nothing else stalls', () => {
  it('answers undecodable frames, non-objects, unknown actions and schema mismatches with 400', async () => {
    const c = await client();
    const text = await c.raw('{not json', false);
    assert.equal(text.headers.status, 400);
    assert.match(String(text.body.error), /^Can't decode text \(JSON\) request\. SyntaxError/);
    assert.equal(text.request.action, null);
    const binary = await c.raw(Buffer.from([0xc1, 0x00, 0xff]), true);
    assert.equal(binary.headers.status, 400);
    assert.match(String(binary.body.error), /^Can't decode binary \(MessagePack\) request/);
    const list = await c.raw('[1, 2, 3]', false);
    assert.equal(list.body.error, 'Unexpected body type. Expected dict or dict like.');
    const unknown = await c.send('queue_explode', { queue_name: 'q' });
    assert.equal(unknown.headers.status, 400);
    assert.equal(unknown.body.error, 'queue_explode is not a valid action');
    const noAction = await c.raw('{"headers": {}}', false);
    assert.equal(noAction.body.error, 'None is not a valid action');
    const schema = await c.send('message_post', { messages: [] });
    assert.equal(schema.headers.status, 400);
    assert.equal(schema.body.error, 'Schema validation failed.');
    const noClient = await c.send('queue_list', {}, false, { 'X-Project-ID': PROJECT });
    assert.equal(noClient.body.error, 'Schema validation failed.');
    const badClient = await c.send('queue_list', {}, false, { 'Client-ID': 'not-a-uuid', 'X-Project-ID': PROJECT });
    assert.equal(badClient.headers.status, 400);
    const huge = await c.raw(`{"n": 123456789012345678901234567890}`, false);
    assert.equal(huge.headers.status, 400, 'integers beyond 64 bits are refused as over HTTP');
    // Nested 3,000 deep: answering it once overflowed the encoder's stack (a 500). Refused
    // before any work, in both encodings, and no queue is made.
    let deep: unknown = 1;
    for (let i = 0; i < 3000; i++) deep = [deep];
    const deepText = await c.send('message_post', { queue_name: 'deep-q', messages: [{ ttl: 60, body: deep }] });
    assert.equal(deepText.headers.status, 400);
    assert.match(String(deepText.body.error), /nested deeper than 128 levels/);
    // MessagePack's encoder cannot make such a frame either: splice 3,000 one-element arrays
    // (0x91 each) in where a placeholder string was packed.
    const marker = packr.pack('PLACEHOLDER');
    const packed = packr.pack({
      action: 'message_post',
      headers: HEADERS,
      body: { queue_name: 'deep-q', messages: [{ ttl: 60, body: 'PLACEHOLDER' }] },
    });
    const at = packed.indexOf(marker);
    const deepFrame = Buffer.concat([
      packed.subarray(0, at),
      Buffer.alloc(3000, 0x91),
      Buffer.from([0x01]),
      packed.subarray(at + marker.length),
    ]);
    const deepBinary = await c.raw(deepFrame, true);
    assert.equal(deepBinary.headers.status, 400);
    assert.match(String(deepBinary.body.error), /^Can't decode binary \(MessagePack\) request/);
    const deepQueue = await c.send('queue_create', { queue_name: 'deep-q', metadata: { a: deep } });
    assert.equal(deepQueue.headers.status, 400);
    assert.equal((await c.send('queue_get', { queue_name: 'deep-q' })).headers.status, 404);
    // The socket still works after all of that.
    assert.equal((await c.send('queue_list', {})).headers.status, 200);
  });

  it('closes a socket that sends an oversized frame (1009) while other sockets go on', async () => {
    const big = await client();
    const other = await client();
    big.ws.send(JSON.stringify({ action: 'queue_list', headers: HEADERS, body: { pad: 'x'.repeat(70_000) } }));
    await big.wait(() => big.closed !== null, 'the close');
    assert.equal(big.closed?.code, 1009);
    assert.equal((await other.send('queue_list', {})).headers.status, 200);
  });

  it('answers a socket that sends many requests at once, in order, while another socket is served', async () => {
    const busy = await client();
    const other = await client();
    for (let i = 0; i < 200; i++) {
      busy.ws.send(
        JSON.stringify({
          action: 'message_post',
          headers: HEADERS,
          body: { queue_name: 'burst', messages: [{ body: i }] },
        }),
      );
    }
    assert.equal((await other.send('ping_node')).headers.status, 204);
    await busy.wait(() => busy.answers.length >= 200, '200 answers');
    assert.deepEqual(
      busy.answers.map((a) => (a.request.body.messages as { body: number }[])[0]?.body),
      Array.from({ length: 200 }, (_, i) => i),
      'answers come in the order of the requests',
    );
    assert.ok(busy.answers.every((a) => a.headers.status === 201));
  });

  it('serves the same API at /v2/ws on the HTTP port', async () => {
    const c = await client(`${server.url.replace('http:', 'ws:')}/v2/ws`);
    const answer = await c.send('queue_create', { queue_name: 'via-http-port' });
    assert.equal(answer.headers.status, 201);
    assert.equal((await http('GET', '/v2/queues/via-http-port')).status, 200);
  });
});

describe('ws: server shutdown', () => {
  it('closes open sockets on both ports with 1001 and deletes their own subscriptions, without waiting on them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'posthorn-ws-close-'));
    dirs.push(dir);
    const config = loadServerConfig({
      env: { POSTHORN_LOG_LEVEL: 'silent' },
      cwd: dir,
      flags: { port: 0, wsPort: 0, data: dir },
    });
    const own = await startQueueServer(config);
    const a = await Client.open(`${own.url.replace('http:', 'ws:')}/v2/ws`);
    const b = await Client.open(own.wsUrl);
    const made = await b.send('subscription_create', { queue_name: 'closing' });
    assert.equal(made.headers.status, 201);
    // Open sockets do not hold the shutdown: it closes them itself (1001, below) instead of waiting
    // for their clients, which never close here. 30 s is a deadline for a busy machine.
    let held: NodeJS.Timeout | undefined;
    await Promise.race([
      own.close(),
      new Promise((_, reject) => {
        held = setTimeout(() => reject(new Error('open sockets held the shutdown for 30 s')), 30_000);
      }),
    ]).finally(() => clearTimeout(held));
    await a.wait(() => a.closed !== null, 'the close of a');
    await b.wait(() => b.closed !== null, 'the close of b');
    assert.equal(a.closed?.code, 1001);
    assert.equal(b.closed?.code, 1001);
    // The disk store kept what happened before it closed: the socket's subscription is gone.
    const again = await startQueueServer(config);
    try {
      assert.equal((await again.service.queues.listSubscriptions(PROJECT, 'closing')).subscriptions.length, 0);
    } finally {
      await again.close();
    }
  });
});
