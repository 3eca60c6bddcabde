import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeClock, type FaultKind, FaultyFileIo, type FileOp, nodeFileIo } from '../../src/core/index.js';
import { silentLog, useSpoolFileIo } from '../../src/multispool/index.js';
import { type DeliveryReport, Spool } from '../../src/spool/index.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

/**
 * Fault injection at every write of a spool (issue 12), SQLite-style: every file operation of
 * the spool goes through one FileIo, and a run of a workload (create, enqueue, attempt, retry,
 * deliver, bounce, close) has its Nth operation fail — ENOSPC, EIO, or a short write — for
 * every N the workload makes. Each time: the failing call fails (or the failure is logged and
 * the message kept), nothing whose enqueue returned is lost — after the fault clears, a spool
 * opened on the folder delivers or bounces every one of them — and the spool works again.
 */

after(() => removeTempSpoolDirs());

const WRITES: readonly FileOp[] = [
  'open',
  'write',
  'fsync',
  'fdatasync',
  'rename',
  'link',
  'unlink',
  'mkdir',
  // The folder lock's (synchronous) ones.
  'openSync',
  'writevSync',
  'fsyncSync',
  'closeSync',
  'unlinkSync',
  'renameSync',
  'symlinkSync',
];
const RETRY_MS = 60_000;

const mail = (recipient: string) => ({
  sender: 'ada@example.org',
  recipients: [recipient],
  headers: [['Subject', recipient]] as [string, string][],
  body: `for ${recipient}\r\n`,
});

interface Outcomes {
  delivered: Set<string>;
  bounced: Set<string>;
}

function spoolOn(dir: string, clock: FakeClock, outcomes: Outcomes) {
  return Spool.create<null>({
    dir,
    clock,
    log: silentLog,
    retryIntervals: [RETRY_MS],
    rescanIntervalMs: 3_600_000,
    deliver: (job): DeliveryReport => {
      const to = job.envelope.recipients[0] as string;
      if (to.startsWith('bad')) return { status: 'failed', reason: 'no such user' } as never;
      if (to.startsWith('later') && job.attempt === 1) return { status: 'try-later', reason: 'greylisted' } as never;
      outcomes.delivered.add(job.id);
      return 'delivered';
    },
    bounce: (b) => {
      outcomes.bounced.add(b.id);
    },
  });
}

/** The workload under a fault: what it acknowledged. Failures are what the test expects; they are caught. */
async function workload(dir: string, clock: FakeClock, outcomes: Outcomes): Promise<string[]> {
  const acknowledged: string[] = [];
  let spool: Spool<null>;
  try {
    spool = await spoolOn(dir, clock, outcomes);
  } catch {
    return acknowledged;
  }
  for (const to of ['ok@example.org', 'later@example.org', 'bad@example.org', 'ok2@example.org']) {
    try {
      acknowledged.push(...(await spool.add(mail(to))));
    } catch {
      // Refused: not acknowledged, so not promised.
    }
  }
  await spool.whenIdle();
  await clock.advanceAsync(RETRY_MS);
  await spool.whenIdle();
  try {
    await spool.close();
  } catch {
    // A failed close loses nothing: what was on disk stays.
  }
  return acknowledged;
}

/** After the fault: a healthy spool on the folder finishes every acknowledged message. */
async function recover(dir: string, clock: FakeClock, outcomes: Outcomes, acknowledged: string[], label: string) {
  const spool = await spoolOn(dir, clock, outcomes);
  try {
    for (let round = 0; round < 4; round++) {
      await spool.whenIdle();
      await clock.advanceAsync(RETRY_MS);
    }
    await spool.whenIdle();
    const lost = acknowledged.filter((id) => !outcomes.delivered.has(id) && !outcomes.bounced.has(id));
    const waiting = new Set(spool.status().messages.map((m) => m.id));
    assert.deepEqual(
      lost.filter((id) => !waiting.has(id)),
      [],
      `${label}: acknowledged messages neither delivered, bounced nor waiting`,
    );
    // And the spool works: a new message is delivered.
    const [id] = await spool.add(mail('ok-after@example.org'));
    await spool.whenIdle();
    assert.ok(outcomes.delivered.has(id as string), `${label}: a message added after the fault is delivered`);
  } finally {
    await spool.close();
  }
}

describe('spool: a fault at every file operation', { timeout: 300_000 }, () => {
  it('counts the operations of the workload (and runs it without faults)', async () => {
    const io = new FaultyFileIo(nodeFileIo, { failAt: Number.POSITIVE_INFINITY, kind: 'EIO', ops: WRITES });
    const undo = useSpoolFileIo(io);
    const outcomes: Outcomes = { delivered: new Set(), bounced: new Set() };
    const dir = tempSpoolDir('posthorn-spool-fault-');
    const clock = new FakeClock();
    let acknowledged: string[];
    try {
      acknowledged = await workload(dir, clock, outcomes);
    } finally {
      undo();
    }
    assert.equal(acknowledged.length, 4);
    assert.ok(io.count > 10, `the workload made ${io.count} file operations`);
    operations = io.count;
    console.log(`# the workload makes ${operations} file operations; each is failed in turn`);
    await recover(dir, clock, outcomes, acknowledged, 'no fault');
    assert.equal(outcomes.bounced.size, 1);
  });

  let operations = 0;
  for (const kind of ['ENOSPC', 'EIO', 'short-write'] as FaultKind[]) {
    it(`${kind} at the Nth operation, for every N: nothing acknowledged is lost, and the spool works after`, async () => {
      assert.ok(operations > 0, 'the counting test ran first');
      const ops: readonly FileOp[] = kind === 'short-write' ? ['write'] : WRITES;
      let fired = 0;
      for (let n = 1; n <= operations; n++) {
        const io = new FaultyFileIo(nodeFileIo, { failAt: n, kind, ops });
        const outcomes: Outcomes = { delivered: new Set(), bounced: new Set() };
        const dir = tempSpoolDir('posthorn-spool-fault-');
        const clock = new FakeClock();
        const undo = useSpoolFileIo(io);
        let acknowledged: string[];
        try {
          acknowledged = await workload(dir, clock, outcomes);
        } finally {
          undo();
        }
        if (io.fired) fired++;
        await recover(dir, clock, outcomes, acknowledged, `${kind} at operation ${n} of ${operations}`);
      }
      assert.ok(fired > 0, 'some fault fired');
    });
  }

  it('a failed fsync of an enqueue is not retried and acknowledged: the enqueue fails, and the next one works', async () => {
    const outcomes: Outcomes = { delivered: new Set(), bounced: new Set() };
    const clock = new FakeClock();
    const spool = await spoolOn(tempSpoolDir('posthorn-spool-fault-'), clock, outcomes);
    try {
      const io = new FaultyFileIo(nodeFileIo, { failAt: 1, kind: 'EIO', ops: ['fdatasync', 'fsync'] });
      const undo = useSpoolFileIo(io);
      try {
        await assert.rejects(spool.add(mail('ok@example.org')), /EIO/);
        // The failed sync was the enqueue's only one: nothing synced the same data again and said yes.
        assert.equal(io.count, 1);
      } finally {
        undo();
      }
      const [id] = await spool.add(mail('ok@example.org'));
      await spool.whenIdle();
      assert.ok(outcomes.delivered.has(id as string));
    } finally {
      await spool.close();
    }
  });
});
