import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FakeClock, silentLogger } from '../../src/core/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-disk-snapshot-claims-'));
after(() => rmSync(root, { recursive: true, force: true }));

// A snapshot writes the orders of a claim that holds nothing as empty (snapshot.ts): the claim
// must come back alive, and the claims that still hold messages must come back whole.
test('claims whose messages were deleted, wholly or partly, come back from a snapshot as they were', async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const dir = join(root, 'store');
  const open = () => createDiskDriver({ dir, clock, logger: silentLogger, gcIntervalMs: 0 });
  let driver = await open();
  const ids = await driver.messages.post(
    'p',
    'q',
    Array.from({ length: 6 }, (_, i) => ({ body: { i }, ttl: 600 })),
    'producer',
  );
  const emptied = await driver.claims.create('p', 'q', { limit: 2, ttl: 120, grace: 60 });
  const partly = await driver.claims.create('p', 'q', { limit: 2, ttl: 120, grace: 60 });
  assert.ok(emptied && partly);
  assert.deepEqual(
    await driver.messages.bulkDelete('p', 'q', ids.slice(0, 3), { claimIds: [emptied.id, partly.id] }),
    ids.slice(0, 3),
  );
  await driver.close(); // snapshots

  driver = await open();
  assert.ok(driver.openStats().snapshotLsn > 0, 'opened from the snapshot');
  assert.equal(driver.openStats().replayedRecords, 0);
  assert.deepEqual((await driver.claims.get('p', 'q', emptied.id)).messages, [], 'the emptied claim lives on');
  assert.deepEqual(
    (await driver.claims.get('p', 'q', partly.id)).messages.map((m) => m.id),
    [ids[3]],
  );
  await driver.claims.update('p', 'q', emptied.id, { ttl: 300, grace: 60 });
  await driver.claims.delete('p', 'q', emptied.id);
  assert.deepEqual(
    (await driver.claims.create('p', 'q', { limit: 10, ttl: 60, grace: 60 }))?.messages.map((m) => m.id),
    ids.slice(4),
    'only the unclaimed messages are claimed',
  );
  await driver.claims.delete('p', 'q', partly.id);
  assert.deepEqual(
    (await driver.claims.create('p', 'q', { limit: 10, ttl: 60, grace: 60 }))?.messages.map((m) => m.id),
    [ids[3]],
    'the released message is claimable again',
  );
  await driver.close();
});
