import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/core/index.js';
import { NotificationSpools, notificationSlot } from '../../../src/service/notify/index.js';
import { type DeliveryReport, Spool, type SpoolEvent } from '../../../src/spool/index.js';
import { testApi } from './helpers.js';

const ADMIN = { 'x-admin-token': 'spool-admin' };
const dirs: string[] = [];
const spools: Spool<null>[] = [];
after(async () => {
  for (const s of spools) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A notifications folder with slot 0's spool running, as a server's notifier runs it, and an app
 * whose admin spool routes act on it. Deliveries answer what `outcome` says at the time.
 */
async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'posthorn-spool-admin-'));
  dirs.push(root);
  const clock = new FakeClock();
  const state = { outcome: 'later' as 'later' | 'delivered', delivered: [] as string[] };
  const spool = await Spool.create<null>({
    dir: notificationSlot(root, 0).spoolDir,
    clock,
    retryIntervals: [60_000],
    log: () => {},
    deliver: (job): DeliveryReport => {
      if (state.outcome === 'delivered') {
        state.delivered.push(job.id);
        return 'delivered';
      }
      return Object.fromEntries(job.envelope.recipients.map((r) => [r, { status: 'try-later', reason: 'busy' }]));
    },
  });
  spools.push(spool);
  const events: SpoolEvent[] = [];
  void (async () => {
    for await (const e of spool.events()) events.push(e);
  })();
  const api = testApi({
    app: { adminToken: 'spool-admin', notificationSpools: new NotificationSpools(root, clock, () => {}) },
  });
  /** Waits until the spool reports an event (a deadline for a busy machine, not a timed assertion). */
  const until = async (match: (e: SpoolEvent) => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!events.some(match)) {
      if (Date.now() > deadline) throw new Error(`no such event; saw ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** One entry, tried once and waiting for its retry. */
  const waitingEntry = async () => {
    const [id] = await spool.add({ sender: '', recipients: ['http://hook.example/a'], body: '{}' });
    await until((e) => e.type === 'delayed' && e.id === id);
    await spool.whenIdle();
    return id as string;
  };
  return { api, spool, state, until, waitingEntry };
}

describe('admin: /v2/notifications/spool', () => {
  it('lists entries with their state', async () => {
    const { api, waitingEntry } = await setup();
    const id = await waitingEntry();
    const listed = await api.call('GET', '/v2/notifications/spool', { headers: ADMIN });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.messages.length, 1);
    const entry = listed.json.messages[0];
    assert.equal(entry.id, id);
    assert.equal(entry.slot, 0);
    assert.equal(entry.state, 'send-at');
    assert.equal(entry.attempts, 1);
    assert.equal(entry.last_error, 'busy');
    assert.deepEqual(entry.recipients[0].address, 'http://hook.example/a');
    assert.equal(listed.json.counts.active, 1);
    const only = await api.call('GET', `/v2/notifications/spool?ids=${id}`, { headers: ADMIN });
    assert.equal(only.json.messages.length, 1);
    await api.close();
  });

  it('freezes, then sends now: the running spool delivers it', async () => {
    const { api, state, until, waitingEntry } = await setup();
    const id = await waitingEntry();
    const frozen = await api.call('POST', '/v2/notifications/spool/freeze', {
      headers: ADMIN,
      body: { ids: [id], reason: 'hold on' },
    });
    assert.equal(frozen.status, 200, frozen.text);
    assert.deepEqual(frozen.json, { done: [id], failed: [] });
    const listed = await api.call('GET', '/v2/notifications/spool', { headers: ADMIN });
    assert.equal(listed.json.messages[0].state, 'frozen');
    assert.equal(listed.json.messages[0].frozen_reason, 'hold on');
    state.outcome = 'delivered';
    const sent = await api.call('POST', '/v2/notifications/spool/send', { headers: ADMIN, body: { ids: [id] } });
    assert.equal(sent.status, 200, sent.text);
    assert.deepEqual(sent.json.done, [id]);
    await until((e) => e.type === 'delivered' && e.id === id);
    assert.deepEqual(state.delivered, [id]);
    await api.close();
  });

  it('removes a frozen entry and recovers it; refuses what its state does not allow', async () => {
    const { api, waitingEntry } = await setup();
    const id = await waitingEntry();
    const early = await api.call('POST', '/v2/notifications/spool/remove', { headers: ADMIN, body: { ids: [id] } });
    assert.equal(early.status, 409, early.text);
    assert.equal(early.json.title, 'Resource conflict');
    await api.call('POST', '/v2/notifications/spool/freeze', { headers: ADMIN, body: { ids: [id] } });
    const removed = await api.call('POST', '/v2/notifications/spool/remove', { headers: ADMIN, body: { ids: [id] } });
    assert.equal(removed.status, 200, removed.text);
    let listed = await api.call('GET', '/v2/notifications/spool', { headers: ADMIN });
    assert.equal(listed.json.messages[0].state, 'removed');
    assert.equal(listed.json.counts.removed, 1);
    const recovered = await api.call('POST', '/v2/notifications/spool/recover', {
      headers: ADMIN,
      body: { ids: [id], from: 'removed' },
    });
    assert.equal(recovered.status, 200, recovered.text);
    listed = await api.call('GET', '/v2/notifications/spool', { headers: ADMIN });
    assert.equal(listed.json.messages[0].state, 'frozen');
    await api.close();
  });

  it('refuses non-admins, unknown ids and bad bodies', async () => {
    const { api, waitingEntry } = await setup();
    await waitingEntry();
    assert.equal((await api.call('GET', '/v2/notifications/spool')).status, 403);
    assert.equal(
      (await api.call('POST', '/v2/notifications/spool/freeze', { body: { ids: ['x'] } })).status,
      403,
      'no admin token',
    );
    const unknown = await api.call('POST', '/v2/notifications/spool/freeze', {
      headers: ADMIN,
      body: { ids: ['0123456789abcdef0123456789abcdef-0'] },
    });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(
      (await api.call('POST', '/v2/notifications/spool/recover', { headers: ADMIN, body: { ids: ['a'], from: 'x' } }))
        .status,
      400,
    );
    assert.equal(
      (await api.call('POST', '/v2/notifications/spool/freeze', { headers: ADMIN, body: { what: 1 } })).status,
      400,
    );
    await api.close();
  });

  it('has no such routes on an app without notification spools', async () => {
    const api = testApi({ app: { adminToken: 'spool-admin' } });
    const answer = await api.call('GET', '/v2/notifications/spool', { headers: ADMIN });
    assert.equal(answer.status, 404, answer.text);
    await api.close();
  });
});
