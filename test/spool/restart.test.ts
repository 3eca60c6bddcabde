import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLog } from '../../src/multispool/index.js';
import { Spool, type SpoolEvent, smtpDelivery } from '../../src/spool/index.js';
import { startSmtpSink } from '../fixtures/spool-smtp-sink.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

const runner = new URL('../fixtures/spool-runner.ts', import.meta.url).pathname;
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups) await cleanup();
  removeTempSpoolDirs();
});

/** Waits for a condition; 60 s is a deadline for a busy machine. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('spool: killed at any instant', () => {
  it('a spool process killed with SIGKILL mid-delivery loses nothing; results saved before the kill are kept', async () => {
    const sink = await startSmtpSink();
    cleanups.push(async () => {
      sink.releaseHeld();
      await sink.close();
    });
    const count = 40;
    for (let i = 0; i < count; i++) sink.script(`b-${i}@example.org`, 451); // b-i is deferred once
    // The last message's first attempt is held at DATA: at the kill, that delivery is in flight.
    sink.holdDataTo(`a-${count - 1}@example.org`);
    const dir = tempSpoolDir('posthorn-spool-kill-');
    const child = fork(runner, [dir, String(sink.port), String(count)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    let added: string[] = [];
    const savedFirstAttempt = new Set<string>();
    child.on('message', (m: { added?: string[]; event?: SpoolEvent }) => {
      if (m.added) added = m.added;
      // A delayed event is emitted after the attempt's results are on disk.
      if (m.event?.type === 'delayed') savedFirstAttempt.add(m.event.id);
    });
    await until(
      () => added.length === count && savedFirstAttempt.size >= 10 && sink.held > 0,
      'the first attempts, one of them held at DATA',
    );
    const exited = new Promise((r) => child.once('exit', r));
    assert.equal(child.exitCode ?? child.signalCode, null, 'the spool process was still running');
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    sink.releaseHeld();
    const heldAtKill = readdirSync(join(dir, 'active', '.checkout')).length;
    assert.ok(heldAtKill > 0, 'the delivery in flight at the kill was checked out');

    const spool = await Spool.create({ dir, deliver: smtpDelivery({ port: sink.port }), log: silentLog });
    try {
      await until(
        async () => (await spool.countFromDisk()) === 0 && spool.status().messages.length === 0,
        'every message to be delivered',
      );
    } finally {
      await spool.close();
    }
    const idOf = new Map(added.map((id, i) => [id, i]));
    for (let i = 0; i < count; i++) {
      assert.ok(sink.count(`a-${i}@example.org`) >= 1, `a-${i} delivered`);
      assert.ok(sink.count(`b-${i}@example.org`) >= 1, `b-${i} delivered`);
    }
    for (const id of savedFirstAttempt) {
      const i = idOf.get(id) as number;
      assert.equal(sink.count(`a-${i}@example.org`), 1, `a-${i}, delivered in a saved attempt, is not sent again`);
    }
  });
});
