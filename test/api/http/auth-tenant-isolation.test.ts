import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { makeLimits } from '../../../src/core/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  checkProjectId,
  issueToken,
  TokenAuthenticator,
} from '../../../src/service/index.js';
import { CLIENT, testApi } from './helpers.js';

/**
 * Tenant isolation as a property: two projects use the same queue names; whatever each does with
 * its own token, no listing, read, claim, delete or subscription of one ever shows or touches the
 * other's. Every body and subscriber is tagged with its project, so a crossing is seen wherever
 * it surfaces; a model of what each project has posted checks that nothing was lost either.
 */

const SECRET = 'tenant-isolation-secret-of-32-characters';
const PROJECTS = ['alpha', 'beta'] as const;
type Project = (typeof PROJECTS)[number];
const QUEUES = ['orders', 'mail'] as const;

type Op =
  | { kind: 'post'; who: Project; queue: string }
  | { kind: 'list-queues'; who: Project }
  | { kind: 'list-messages'; who: Project; queue: string }
  | { kind: 'claim'; who: Project; queue: string }
  | { kind: 'delete-foreign'; who: Project; queue: string }
  | { kind: 'delete-queue'; who: Project; queue: string }
  | { kind: 'subscribe'; who: Project; queue: string }
  | { kind: 'list-subscriptions'; who: Project; queue: string };

const who = fc.constantFrom(...PROJECTS);
const queue = fc.constantFrom(...QUEUES);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('post' as const), who, queue }),
  fc.record({ kind: fc.constant('list-queues' as const), who }),
  fc.record({ kind: fc.constant('list-messages' as const), who, queue }),
  fc.record({ kind: fc.constant('claim' as const), who, queue }),
  fc.record({ kind: fc.constant('delete-foreign' as const), who, queue }),
  fc.record({ kind: fc.constant('delete-queue' as const), who, queue }),
  fc.record({ kind: fc.constant('subscribe' as const), who, queue }),
  fc.record({ kind: fc.constant('list-subscriptions' as const), who, queue }),
);

const other = (p: Project): Project => (p === 'alpha' ? 'beta' : 'alpha');

describe('http: tenant isolation (property)', () => {
  it('two projects with the same queue names never see or touch each other', async () => {
    const tokens = new Map<Project, string>();
    for (const p of PROJECTS)
      tokens.set(p, await issueToken(SECRET, { project: p, roles: ['member'], ttlSeconds: 86_400 }));
    const checkProject = (value: string | undefined) => checkProjectId(value, makeLimits());

    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const api = testApi({
          app: {
            access: new AccessControl(
              new TokenAuthenticator({ secret: SECRET, keys: [] }),
              new AccessPolicy(),
              new AdminToken(null),
              checkProject,
            ),
          },
        });
        // What each project has posted and not deleted, by queue: message id -> body.
        const posted = new Map<string, Map<string, string>>();
        const held = (p: Project, q: string) => {
          let m = posted.get(`${p}/${q}`);
          if (!m) {
            m = new Map();
            posted.set(`${p}/${q}`, m);
          }
          return m;
        };
        const headers = (p: Project) => ({
          'client-id': CLIENT,
          'x-project-id': undefined,
          authorization: `Bearer ${tokens.get(p)}`,
        });
        let n = 0;
        try {
          for (const o of ops) {
            const h = headers(o.who);
            switch (o.kind) {
              case 'post': {
                const body = `${o.who}-${n++}`;
                const r = await api.call('POST', `/v2/queues/${o.queue}/messages`, {
                  headers: h,
                  body: { messages: [{ body, ttl: 3600 }] },
                });
                assert.equal(r.status, 201, r.text);
                const id = (r.json.resources[0] as string).split('/').pop() as string;
                held(o.who, o.queue).set(id, body);
                break;
              }
              case 'list-queues': {
                const r = await api.call('GET', '/v2/queues', { headers: h });
                assert.equal(r.status, 200);
                const names: string[] = r.json.queues.map((q: { name: string }) => q.name);
                for (const name of names) {
                  // A queue of this project exists because it posted to or subscribed on it.
                  const mine = ops.some((x) => x.who === o.who && 'queue' in x && x.queue === name);
                  assert.ok(mine, `${o.who} lists ${name}, which only ${other(o.who)} used`);
                }
                break;
              }
              case 'list-messages': {
                const r = await api.call(
                  'GET',
                  `/v2/queues/${o.queue}/messages?echo=true&include_claimed=true&limit=20`,
                  { headers: h },
                );
                if (r.status === 200) {
                  for (const m of r.json.messages as { body: string }[]) {
                    assert.ok(m.body.startsWith(`${o.who}-`), `${o.who} read ${m.body}`);
                  }
                }
                break;
              }
              case 'claim': {
                const r = await api.call('POST', `/v2/queues/${o.queue}/claims?limit=5`, {
                  headers: h,
                  body: { ttl: 60, grace: 60 },
                });
                assert.ok(r.status === 201 || r.status === 204, r.text);
                if (r.status === 201) {
                  for (const m of r.json.messages as { body: string }[]) {
                    assert.ok(m.body.startsWith(`${o.who}-`), `${o.who} claimed ${m.body}`);
                  }
                }
                break;
              }
              case 'delete-foreign': {
                // Delete the other project's message ids through this project's token: nothing of theirs may go.
                const theirs = held(other(o.who), o.queue);
                for (const id of theirs.keys()) {
                  const r = await api.call('DELETE', `/v2/queues/${o.queue}/messages/${id}`, { headers: h });
                  assert.ok(r.status === 204 || r.status === 404 || r.status === 403, r.text);
                }
                break;
              }
              case 'delete-queue': {
                const r = await api.call('DELETE', `/v2/queues/${o.queue}`, { headers: h });
                assert.equal(r.status, 204);
                held(o.who, o.queue).clear();
                break;
              }
              case 'subscribe': {
                const r = await api.call('POST', `/v2/queues/${o.queue}/subscriptions`, {
                  headers: h,
                  body: { subscriber: `mailto:${o.who}-${n++}@example.com`, ttl: 3600 },
                });
                assert.ok(r.status === 201 || r.status === 409, r.text);
                break;
              }
              case 'list-subscriptions': {
                const r = await api.call('GET', `/v2/queues/${o.queue}/subscriptions`, { headers: h });
                assert.equal(r.status, 200);
                for (const s of r.json.subscriptions as { subscriber: string }[]) {
                  assert.ok(s.subscriber.startsWith(`mailto:${o.who}-`), `${o.who} lists ${s.subscriber}`);
                }
                break;
              }
            }
          }
          // Nothing a project posted (and did not delete itself) was lost to the other's actions.
          for (const p of PROJECTS) {
            for (const q of QUEUES) {
              for (const [id, body] of held(p, q)) {
                const r = await api.call('GET', `/v2/queues/${q}/messages/${id}`, { headers: headers(p) });
                assert.equal(r.status, 200, `${p}'s ${body} in ${q} is gone`);
                assert.equal(r.json.body, body);
              }
            }
          }
        } finally {
          await api.close();
        }
      }),
      { numRuns: 40, seed: 1313 },
    );
  });
});
