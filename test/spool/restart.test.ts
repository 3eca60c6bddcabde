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

after(() => {
  for (const child of children) child.kill('SIGKILL');
  removeTempSpoolDirs();
});

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('spool: killed at any instant', () => {
  it('a spool process killed with SIGKILL mid-delivery loses nothing; results saved before the kill are kept', async () => {
    const sink = await startSmtpSink();
    sink.dataDelayMs = 30; // deliveries take a while, so the kill lands in the middle of some
    const count = 40;
    for (let i = 0; i < count; i++) sink.script(`b-${i}@example.org`, 451); // b-i is deferred once
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
    await until(() => added.length === count && savedFirstAttempt.size >= 10, 'the first attempts');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    children.delete(child);
    const heldAtKill = readdirSync(join(dir, 'active', '.checkout')).length;
    assert.ok(heldAtKill > 0, 'the kill caught deliveries in flight');

    const spool = await Spool.create({ dir, deliver: smtpDelivery({ port: sink.port }), log: silentLog });
    try {
      await until(
        async () => (await spool.countFromDisk()) === 0 && spool.status().messages.length === 0,
        'every message to be delivered',
      );
    } finally {
      await spool.close();
      await sink.close();
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
