/**
 * A subscription the store refuses must not leave its queue behind: subscribing to a queue that
 * does not exist creates it, and the options (nested too deep) or the subscriber (too long) were
 * only checked by the store after that (found by the route fuzzer, test/api/fuzz).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testApi } from './helpers.js';

const deep = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

const refused = [
  ['options nested 150 deep', { subscriber: 'http://127.0.0.1:9/hook', options: { a: deep(150) } }],
  ['a subscriber of 3,000 characters', { subscriber: `http://127.0.0.1:9/${'x'.repeat(3000)}` }],
] as const;

for (const collection of ['/v2/queues', '/v2/topics']) {
  for (const [what, body] of refused) {
    test(`a subscription with ${what} is refused and creates no queue (${collection})`, async (t) => {
      const api = testApi();
      t.after(() => api.close());
      const answer = await api.call('POST', `${collection}/nq/subscriptions`, { body });
      assert.equal(answer.status, 400, answer.text);
      assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
      const listed = await api.call('GET', collection);
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.json[collection.slice(4)], [], 'the refused subscription left its queue');
    });
  }
}
