import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, InvalidArgumentError, makeLimits, type NewMessage } from '../../../src/core/index.js';
import { checkMessages } from '../../../src/store/contract/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';

describe('store contract: checking the messages of a post', () => {
  const limits = makeLimits();

  it('refuses what every driver refuses, naming the field', () => {
    const bad: [unknown, string][] = [
      [[], 'messages'],
      [[{ body: 1 }, 'x'], 'messages[1]'],
      [[{ body: 1, ttl: 59 }], 'messages[0].ttl'],
      [[{ body: 1, delay: 1.5 }], 'messages[0].delay'],
      [[{ body: Number.NaN }], 'messages[0].body'],
      [[{ body: 1, checksum: '' }], 'messages[0].checksum'],
    ];
    for (const [list, field] of bad) {
      assert.throws(() => checkMessages(list as NewMessage[], limits), { name: InvalidArgumentError.name, field });
    }
  });

  it('freezes a checked list, so what was checked is what is posted', () => {
    const list: NewMessage[] = [{ body: 'a', ttl: 60 }];
    checkMessages(list, limits);
    assert.ok(Object.isFrozen(list));
    assert.throws(() => list.push({ body: 'b', ttl: 1 }), TypeError);
  });

  it('a driver checks again a list checked against wider ranges than its own', async () => {
    const driver = createMemoryDriver({ clock: new FakeClock(), limits });
    const wide: NewMessage[] = [{ body: 'a', ttl: 10 }];
    checkMessages(wide, makeLimits({ minMessageTtl: 1 }));
    await assert.rejects(driver.messages.post('p', 'q', wide, 'c'), { field: 'messages[0].ttl' });
    const narrow: NewMessage[] = [{ body: 'a', ttl: 120 }];
    checkMessages(narrow, makeLimits({ minMessageTtl: 120 }));
    assert.equal((await driver.messages.post('p', 'q', narrow, 'c')).length, 1);
    assert.equal((await driver.queues.stats('p', 'q')).total, 1);
  });
});
