import assert from 'node:assert/strict';
import { InvalidArgumentError, LimitExceededError, type PosthornError } from '../../core/index.js';
import type { DataDriver } from '../../store/contract/index.js';
import type { ConformanceCase } from '../harness.js';
import { allIds } from './messages.js';

type BadCall = [label: string, field: string, call: (d: DataDriver, p: string) => Promise<unknown>];

// biome-ignore lint/suspicious/noExplicitAny: bad input on purpose, past the types
const any = (value: unknown): any => value;

const badCalls: BadCall[] = [
  ['queue name with a space', 'queue', (d, p) => d.queues.create(p, 'has space')],
  ['empty queue name', 'queue', (d, p) => d.queues.exists(p, '')],
  ['queue name of 65 characters', 'queue', (d, p) => d.messages.post(p, 'q'.repeat(65), [{ body: 1 }], 'c')],
  ['queue name that is not a string', 'queue', (d, p) => d.queues.getMetadata(p, any(42))],
  ['project of 257 characters', 'project', (d) => d.queues.create('p'.repeat(257), 'q')],
  ['project that is not a string', 'project', (d) => d.queues.list(any(null))],
  ['metadata that is an array', 'metadata', (d, p) => d.queues.create(p, 'new', any([1]))],
  ['metadata over 64 KiB', 'metadata size', (d, p) => d.queues.setMetadata(p, 'q', { big: 'x'.repeat(70_000) })],
  ['metadata holding a function', 'metadata.f', (d, p) => d.queues.setMetadata(p, 'q', { f: () => 1 })],
  ['messages that are not an array', 'messages', (d, p) => d.messages.post(p, 'q', any({ body: 1 }), 'c')],
  ['no messages', 'messages', (d, p) => d.messages.post(p, 'q', [], 'c')],
  [
    'a message without a body',
    'messages[1].body',
    (d, p) => d.messages.post(p, 'q', [{ body: 1 }, any({ ttl: 60 })], 'c'),
  ],
  ['a body with NaN', 'messages[0].body.n', (d, p) => d.messages.post(p, 'q', [{ body: { n: Number.NaN } }], 'c')],
  ['a body with a Date', 'messages[0].body', (d, p) => d.messages.post(p, 'q', [{ body: new Date() }], 'c')],
  ['ttl under 60', 'messages[0].ttl', (d, p) => d.messages.post(p, 'q', [{ body: 1, ttl: 59 }], 'c')],
  [
    'ttl over 14 days',
    'messages[2].ttl',
    (d, p) => d.messages.post(p, 'q', [{ body: 1 }, { body: 2 }, { body: 3, ttl: 1_209_601 }], 'c'),
  ],
  ['ttl that is not an integer', 'messages[0].ttl', (d, p) => d.messages.post(p, 'q', [{ body: 1, ttl: 60.5 }], 'c')],
  ['negative delay', 'messages[0].delay', (d, p) => d.messages.post(p, 'q', [{ body: 1, delay: -1 }], 'c')],
  ['delay over 900', 'messages[0].delay', (d, p) => d.messages.post(p, 'q', [{ body: 1, delay: 901 }], 'c')],
  ['client id that is not a string', 'clientId', (d, p) => d.messages.post(p, 'q', [{ body: 1 }], any(7))],
  ['list limit 0', 'limit', (d, p) => d.messages.list(p, 'q', { limit: 0 })],
  ['list limit 21', 'limit', (d, p) => d.messages.list(p, 'q', { limit: 21 })],
  ['echo that is not a boolean', 'echo', (d, p) => d.messages.list(p, 'q', { echo: any('yes') })],
  ['a marker no store made', 'marker', (d, p) => d.messages.list(p, 'q', { marker: 'garbage!' })],
  [
    'bulk get of 21 ids',
    'ids',
    (d, p) =>
      d.messages.bulkGet(
        p,
        'q',
        Array.from({ length: 21 }, (_, i) => `id${i}`),
      ),
  ],
  ['bulk delete with an empty id', 'ids[1]', (d, p) => d.messages.bulkDelete(p, 'q', ['a', ''])],
  ['pop of 0', 'limit', (d, p) => d.messages.pop(p, 'q', 0)],
  ['pop of 21', 'limit', (d, p) => d.messages.pop(p, 'q', 21)],
  ['claim limit 21', 'limit', (d, p) => d.claims.create(p, 'q', { limit: 21 })],
  ['claim ttl 59', 'ttl', (d, p) => d.claims.create(p, 'q', { ttl: 59 })],
  ['claim ttl over 43200', 'ttl', (d, p) => d.claims.create(p, 'q', { ttl: 43_201 })],
  ['claim grace 59', 'grace', (d, p) => d.claims.create(p, 'q', { grace: 59 })],
  ['claim update ttl 0', 'ttl', (d, p) => d.claims.update(p, 'q', 'some-claim', { ttl: 0 })],
  ['empty claim id', 'claimId', (d, p) => d.claims.get(p, 'q', '')],
  ['subscriber that is empty', 'subscriber', (d, p) => d.subscriptions.create(p, 'q', '')],
  ['subscription ttl 59', 'ttl', (d, p) => d.subscriptions.create(p, 'q', 'http://a.test/', { ttl: 59 })],
  [
    'subscription options that are a string',
    'options',
    (d, p) => d.subscriptions.create(p, 'q', 'http://a.test/', { options: any('x') }),
  ],
  [
    'an unknown subscription field',
    'changes.colour',
    (d, p) => d.subscriptions.update(p, 'q', 'id', any({ colour: 'red' })),
  ],
  ['confirmed that is not a boolean', 'confirmed', (d, p) => d.subscriptions.confirm(p, 'q', 'id', any('true'))],
];

async function snapshot(driver: DataDriver, project: string): Promise<unknown> {
  const queues = await driver.queues.list(project, { detailed: true, withCount: true });
  const contents: Record<string, unknown> = {};
  for (const q of queues.queues) {
    contents[q.name] = {
      ids: await allIds(driver, project, q.name, { includeDelayed: true }),
      stats: await driver.queues.stats(project, q.name),
      subscriptions: (await driver.subscriptions.list(project, q.name)).subscriptions.map((s) => s.subscriber),
    };
  }
  return { queues, contents };
}

export const validationCases: ConformanceCase[] = [
  {
    group: 'bad input',
    name: 'every bad argument is a typed error naming the field, and changes nothing',
    async run({ driver, project }) {
      await driver.queues.create(project, 'q', { keep: 'me' });
      await driver.messages.post(project, 'q', [{ body: 'existing' }], 'c');
      await driver.subscriptions.create(project, 'q', 'http://existing.test/');
      const before = await snapshot(driver, project);
      for (const [label, field, call] of badCalls) {
        let caught: unknown;
        try {
          await call(driver, project);
        } catch (error) {
          caught = error;
        }
        assert.ok(caught !== undefined, `${label}: the call succeeded`);
        assert.ok(
          caught instanceof InvalidArgumentError || caught instanceof LimitExceededError,
          `${label}: expected a typed argument error, got ${String(caught)}`,
        );
        assert.equal((caught as InvalidArgumentError).field, field, `${label}: the error names the field`);
        assert.ok((caught as PosthornError).code.startsWith('PH_'), `${label}: the error has a code`);
      }
      assert.deepEqual(await snapshot(driver, project), before, 'nothing changed');
    },
  },
];
