import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { type CliIo, registerSpoolCommand } from '../../src/cli/spool-command.js';
import { FakeClock } from '../../src/core/index.js';
import { silentLog } from '../../src/multispool/index.js';
import { type DeliveryReport, Spool, type SpoolEvent, smtpDelivery } from '../../src/spool/index.js';
import { startSmtpSink } from '../fixtures/spool-smtp-sink.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

after(removeTempSpoolDirs);

const S = 1000;
const root = new URL('../../', import.meta.url).pathname;

/** Runs `posthorn spool ...` in this process and captures what it prints. */
async function posthorn(clock: FakeClock, ...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  let code = 0;
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    setExitCode: (c) => {
      code = c;
    },
    clock,
  };
  const program = new Command('posthorn').exitOverride().configureOutput({
    writeOut: (t) => {
      out += t;
    },
    writeErr: (t) => {
      err += t;
    },
  });
  registerSpoolCommand(program, io);
  try {
    await program.parseAsync(['spool', ...args], { from: 'user' });
  } catch (error) {
    code = (error as { exitCode?: number }).exitCode ?? 1;
  }
  return { out, err, code };
}

const mail = (to: string) => ({ sender: 'ada@example.org', recipients: [to], body: 'hi\r\n' });

/** A spool folder holding one frozen, one waiting and one quarantined message. */
async function sampleSpool(): Promise<{
  dir: string;
  clock: FakeClock;
  frozen: string;
  waiting: string;
  held: string;
}> {
  const dir = tempSpoolDir('posthorn-spool-cli-');
  const clock = new FakeClock();
  const spool = await Spool.create({
    dir,
    clock,
    log: silentLog,
    deliver: async (): Promise<DeliveryReport> => ({ 'down@x': { status: 'try-later', reason: '451 busy' } }),
  });
  const stream = spool.events();
  const [frozen] = await spool.add(mail('down@x'), [{ retryIntervals: [] }]);
  const [waiting] = await spool.add(mail('down@x'), [{ retryIntervals: [3600 * S] }]);
  const [held] = await spool.quarantine(mail('spam@x'), [{}], { reason: 'spam score 12' });
  const events: SpoolEvent[] = [];
  while (!(events.some((e) => e.type === 'frozen') && events.some((e) => e.type === 'delayed'))) {
    const next = await stream.next();
    if (!next.done) events.push(next.value);
  }
  await spool.close();
  return { dir, clock, frozen: frozen as string, waiting: waiting as string, held: held as string };
}

const names = (dir: string, queue: string) => readdirSync(join(dir, queue)).filter((n) => !n.startsWith('.'));

describe('cli: posthorn spool', () => {
  it('status prints a table for people and JSON for scripts', async () => {
    const { dir, clock, frozen, waiting, held } = await sampleSpool();
    clock.advance(60 * S);
    const table = await posthorn(clock, 'status', dir);
    assert.equal(table.code, 0, table.err);
    const lines = table.out.split('\n');
    assert.match(
      lines[0] ?? '',
      /^id\s+state\s+next attempt\s+attempts\s+age\s+sender\s+recipients\s+last error \/ reason$/,
    );
    assert.match(
      table.out,
      new RegExp(`${frozen}\\s+frozen\\s+-\\s+1\\s+1m\\s+ada@example.org\\s+down@x\\s+retry intervals exhausted`),
    );
    assert.match(
      table.out,
      new RegExp(`${waiting}\\s+send-at\\s+in 59m\\s+1\\s+1m\\s+ada@example.org\\s+down@x\\s+451 busy`),
    );
    assert.match(table.out, new RegExp(`${held}\\s+quarantined\\s+-\\s+0\\s+.*spam score 12`));
    assert.match(table.out, /3 messages: 1 active, 1 frozen, 0 removed, 1 quarantine, 0 busy; 2 waiting or frozen/);

    const json = await posthorn(clock, 'status', dir, '--json');
    const parsed = JSON.parse(json.out) as {
      messages: { id: string; state: string; attempts: number }[];
      counts: Record<string, number>;
    };
    assert.deepEqual(parsed.counts, { active: 1, frozen: 1, removed: 0, quarantine: 1, busy: 0, waiting: 2 });
    assert.deepEqual(
      parsed.messages.map((m) => [m.id, m.state, m.attempts]).sort(),
      [
        [frozen, 'frozen', 1],
        [waiting, 'send-at', 1],
        [held, 'quarantined', 0],
      ].sort(),
    );
    const one = JSON.parse((await posthorn(clock, 'status', dir, held, '--json')).out) as {
      messages: { id: string }[];
    };
    assert.deepEqual(
      one.messages.map((m) => m.id),
      [held],
    );
  });

  it('freeze, remove, recover, quarantine and send move the files as a running spool would', async () => {
    const { dir, clock, frozen, waiting, held } = await sampleSpool();
    const refused = await posthorn(clock, 'remove', dir, waiting);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /PH_CONFLICT: .*freeze it first/);
    assert.deepEqual(names(dir, 'active'), [waiting], 'a refused command changes nothing');

    assert.equal((await posthorn(clock, 'freeze', dir, waiting)).out, `frozen ${waiting} (now frozen)\n`);
    assert.deepEqual(names(dir, 'frozen').sort(), [frozen, waiting].sort());
    const removed = await posthorn(clock, 'remove', dir, frozen, waiting, '--json');
    assert.deepEqual(JSON.parse(removed.out), { removed: [frozen, waiting], failed: [] });
    assert.deepEqual(names(dir, 'removed').sort(), [frozen, waiting].sort());
    assert.equal((await posthorn(clock, 'recover', dir, waiting, '--from', 'removed')).code, 0);
    assert.deepEqual(names(dir, 'frozen'), [waiting]);
    assert.equal((await posthorn(clock, 'quarantine', dir, waiting, '--reason', 'asked by legal')).code, 0);
    assert.deepEqual(names(dir, 'quarantine').sort(), [held, waiting].sort());
    assert.equal((await posthorn(clock, 'recover', dir, held, waiting, '--from', 'quarantined')).code, 0);
    const sent = await posthorn(clock, 'send', dir, '--frozen', '--retry', '5m,1h*2', '--json');
    assert.deepEqual(JSON.parse(sent.out).sent.sort(), [held, waiting].sort());
    assert.deepEqual(names(dir, 'active').sort(), [held, waiting].sort());
    const status = JSON.parse((await posthorn(clock, 'status', dir, waiting, '--json')).out);
    assert.equal(status.messages[0].state, 'send-now');
    // 5m,1h*2 before what was left (its one interval was used by the first retry).
    assert.deepEqual(status.messages[0].retryIntervals, [300 * S, 3600 * S, 3600 * S]);
  });

  it('bad input is a typed error with exit code 1 and changes nothing', async () => {
    const { dir, clock, waiting } = await sampleSpool();
    const stranger = tempSpoolDir();
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    const empty = join(tempSpoolDir(), 'nothing-here');
    mkdirSync(empty);
    const cases: [string[], RegExp][] = [
      [['status', stranger], /PH_NOT_A_SPOOL/],
      [['status', join(stranger, 'missing')], /PH_NOT_A_SPOOL/],
      [['freeze', empty, waiting], /PH_NOT_A_SPOOL/],
      [['freeze', dir, 'not-an-id'], /PH_INVALID_ARGUMENT/],
      [['freeze', dir, `${'0'.repeat(32)}-0`], /PH_NOT_FOUND/],
      [['send', dir, waiting, '--retry', '5 minutes'], /PH_INVALID_ARGUMENT: invalid --retry/],
      [['recover', dir, waiting, '--from', 'trash'], /PH_INVALID_ARGUMENT/],
      [['freeze', dir, waiting, `${'0'.repeat(32)}-0`], /PH_NOT_FOUND/],
    ];
    for (const [args, expected] of cases) {
      const r = await posthorn(clock, ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, expected, args.join(' '));
    }
    assert.deepEqual(readdirSync(stranger), ['notes.txt']);
    assert.deepEqual(readdirSync(empty), []);
    assert.equal(existsSync(join(stranger, 'missing')), false);
    assert.deepEqual(names(dir, 'active'), [waiting], 'a batch with one unknown id changes none');
    const usage = await posthorn(clock, 'freeze', dir);
    assert.notEqual(usage.code, 0, 'commander refuses a missing argument');
  });

  it('the posthorn command, run as another process, sends a frozen message and the running spool delivers it', async () => {
    const sink = await startSmtpSink();
    sink.script('later@example.org', 451);
    const dir = tempSpoolDir('posthorn-spool-cli-');
    const spool = await Spool.create({
      dir,
      log: silentLog,
      deliver: smtpDelivery({ port: sink.port }),
      retryIntervals: [],
    });
    const events: SpoolEvent[] = [];
    void (async () => {
      for await (const e of spool.events()) events.push(e);
    })();
    const waitFor = async (match: (e: SpoolEvent) => boolean, what: string) => {
      const deadline = Date.now() + 30_000; // a deadline for a busy machine
      while (!events.some(match)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      const [id] = await spool.add(mail('later@example.org'));
      await waitFor((e) => e.type === 'frozen', 'the message to freeze');
      const run = promisify(execFile);
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'spool', 'send', dir, id as string],
        {
          cwd: root,
        },
      );
      assert.equal(stdout, `sent ${id} (now send-now)\n`);
      await waitFor((e) => e.type === 'unfrozen' && e.id === id, 'the spool to notice');
      await waitFor((e) => e.type === 'delivered' && e.id === id, 'delivery');
      assert.equal(sink.count('later@example.org'), 1);
    } finally {
      await spool.close();
      await sink.close();
    }
  });
});
