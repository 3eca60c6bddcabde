/**
 * SpoolFolder.locate must find a message that another process is moving. One look at the
 * queues and then at the checkouts can see it in neither (checked out while the queues are
 * read, given back before the checkouts are); taking that for "gone" made a running spool forget
 * an operator's unfrozen message and find it again with no `unfrozen` event (seen as a flaky
 * test/cli/spool-command.test.ts under load).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock, ResourceNotFoundError } from '../../src/core/index.js';
import { silentLog } from '../../src/multispool/index.js';
import { type DeliveryReport, Spool, SpoolFolder } from '../../src/spool/index.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

after(() => removeTempSpoolDirs());

describe('spool folder: locate', () => {
  it('finds a message that was in no queue and no checkout when each was looked at', async () => {
    const dir = tempSpoolDir('posthorn-locate-');
    const spool = await Spool.create({
      dir,
      clock: new FakeClock(),
      log: silentLog,
      deliver: async (): Promise<DeliveryReport> => ({}),
    });
    // Quarantined: a message that stays where it is (a deliverable one would be delivered).
    const [id] = await spool.quarantine(
      { sender: 'ada@example.org', recipients: ['x@example.org'], body: 'hi\r\n' },
      [{}],
      {
        reason: 'held for the test',
      },
    );
    await spool.close();
    const folder = await SpoolFolder.open(dir, { log: silentLog });
    const multispool = folder.multispool;
    const realEntry = multispool.entry.bind(multispool);
    const realCheckouts = multispool.listCheckouts.bind(multispool);
    // The interleaving of a move by another process: while the queues are read the message is
    // checked out (in no queue), and it is given back just before the checkouts are read.
    let moving = true;
    let looksAtQueues = 0;
    multispool.entry = ((queue, name) => {
      const entry = realEntry(queue, name);
      if (!moving) return entry;
      looksAtQueues++;
      return Object.assign(Object.create(entry) as typeof entry, {
        metadata: async () => {
          throw new ResourceNotFoundError('spool entry', `${queue}/${name}`);
        },
      });
    }) as typeof multispool.entry;
    multispool.listCheckouts = (async (queue) => {
      moving = false; // given back: in its queue from now on, and no longer checked out
      return realCheckouts(queue);
    }) as typeof multispool.listCheckouts;
    const found = await folder.locate(id as string);
    assert.ok(looksAtQueues > 0, 'the queues were read while the message was moving');
    assert.notEqual(found, null, 'a message in motion is not taken for gone');
    assert.notEqual(found, 'busy');
    assert.equal(typeof found === 'object' && found?.meta.id, id);
    // And one that is truly gone is still reported gone.
    assert.equal(await folder.locate('0'.repeat(32)), null);
  });
});
