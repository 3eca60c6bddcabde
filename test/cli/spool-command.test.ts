import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../src/core/index.js';
import { silentLog } from '../../src/multispool/index.js';
import { type DeliveryReport, Spool, type SpoolEvent, smtpDelivery } from '../../src/spool/index.js';
import { startSmtpSink } from '../fixtures/spool-smtp-sink.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';
import { posthornProcess, posthorn as run } from './run-posthorn.js';

after(removeTempSpoolDirs);

const S = 1000;

/** Runs `posthorn spool ...` in this process and captures what it prints. */
const posthorn = (clock: FakeClock, ...args: string[]) => run({ clock }, 'spool', ...args);

const mail = (to: string) => ({ sender: 'ada@example.org', recipients: [to], body: 'hi\r\n' });

/** A spool folder holding one frozen, one waiting and one quarantined message. */
async function sampleSpool(
  dir = tempSpoolDir('posthorn-spool-cli-'),
  clock = new FakeClock(),
): Promise<{
  dir: string;
  clock: FakeClock;
  frozen: string;
  waiting: string;
  held: string;
}> {
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
    assert.match(
      table.out,
      /\n3 messages: 1 active, 1 frozen, 0 removed, 1 quarantine, 0 busy; 2 waiting or frozen\n$/,
    );
    const single = await posthorn(clock, 'status', dir, held);
    assert.match(
      single.out,
      /\n1 message: 0 active, 0 frozen, 0 removed, 1 quarantine, 0 busy; 0 waiting or frozen\n$/,
    );

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
    assert.equal(
      refused.err,
      `posthorn spool remove: spool message "${waiting}": is send-at; only a frozen message can be removed (freeze it first)\n`,
    );
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

  it('says what is wrong in one line (exit 2 for the command line, 1 for the rest) and changes nothing', async () => {
    const { dir, clock, waiting } = await sampleSpool();
    const stranger = tempSpoolDir();
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    const empty = join(tempSpoolDir(), 'nothing-here');
    mkdirSync(empty);
    const unknown = `${'0'.repeat(32)}-0`;
    const cases: [string[], number, string][] = [
      [
        ['status', stranger],
        1,
        `posthorn spool status: ${stranger} is not a usable spool: the folder is not empty and is not a spool (no .registry and .tmp; it holds notes.txt)`,
      ],
      [
        ['status', join(stranger, 'missing')],
        1,
        `posthorn spool status: ${join(stranger, 'missing')} is not a usable spool: the folder does not exist`,
      ],
      [['freeze', empty, waiting], 1, `posthorn spool freeze: ${empty} is not a usable spool: the folder is empty`],
      [['freeze', dir, 'not-an-id'], 2, 'posthorn spool freeze: "not-an-id" is not a spool message id'],
      [['freeze', dir, unknown], 1, `posthorn spool freeze: spool message "${unknown}" does not exist`],
      [['freeze', dir, waiting, unknown], 1, `posthorn spool freeze: spool message "${unknown}" does not exist`],
      [['freeze', dir], 2, "posthorn spool freeze: missing required argument 'ids'"],
      [['freeze'], 2, "posthorn spool freeze: missing required argument 'dir' (or give --data or --config)"],
      [
        ['send', dir, waiting, '--retry', '5 minutes'],
        2,
        "posthorn spool send: option '--retry <intervals>' argument '5 minutes' is invalid. \"5 minutes\" is not a duration like 30s, 5m, 1h or 1h*3",
      ],
      [['send', dir, '--retry'], 2, "posthorn spool send: option '--retry <intervals>' argument missing"],
      [
        ['recover', dir, waiting, '--from', 'trash'],
        2,
        "posthorn spool recover: option '--from <where>' argument 'trash' is invalid. Allowed choices are removed, quarantined.",
      ],
      [['recover', dir, waiting], 2, "posthorn spool recover: required option '--from <where>' not specified"],
      [
        ['quarantine', dir, waiting, '--reason', ' '],
        2,
        "posthorn spool quarantine: option '--reason <text>' argument ' ' is invalid. must not be empty",
      ],
      [['status', dir, '--jsn'], 2, "posthorn spool status: unknown option '--jsn' (Did you mean --json?)"],
      [['stat', dir], 2, "posthorn spool: unknown command 'stat' (Did you mean status?)"],
    ];
    for (const [args, code, line] of cases) {
      const r = await posthorn(clock, ...args);
      assert.equal(r.err, `${line}\n`, args.join(' '));
      assert.equal(r.code, code, args.join(' '));
      assert.equal(r.out, '', args.join(' '));
    }
    assert.deepEqual(readdirSync(stranger), ['notes.txt']);
    assert.deepEqual(readdirSync(empty), []);
    assert.equal(existsSync(join(stranger, 'missing')), false);
    assert.deepEqual(names(dir, 'active'), [waiting], 'a batch with one unknown id changes none');
  });

  it('with --json, every error is one JSON object on stderr, of one shape', async () => {
    const { dir, clock, waiting } = await sampleSpool();
    const unknown = `${'0'.repeat(32)}-0`;
    const cases: [string[], number, string, RegExp][] = [
      [['status', join(dir, 'missing'), '--json'], 1, 'PH_NOT_A_SPOOL', /the folder does not exist$/],
      [['freeze', dir, unknown, '--json'], 1, 'PH_NOT_FOUND', /^spool message "0+-0" does not exist$/],
      [['remove', dir, waiting, '--json'], 1, 'PH_CONFLICT', /freeze it first/],
      [['freeze', dir, 'bad', '--json'], 2, 'PH_USAGE', /^"bad" is not a spool message id$/],
      [['freeze', '--json', dir], 2, 'PH_USAGE', /^missing required argument 'ids'$/],
      // --json comes after the value commander refuses: the command line still asks for JSON.
      [
        ['recover', dir, waiting, '--from', 'trash', '--json'],
        2,
        'PH_USAGE',
        /Allowed choices are removed, quarantined/,
      ],
      [['status', dir, '--json', '--bogus'], 2, 'PH_USAGE', /^unknown option '--bogus'$/],
    ];
    for (const [args, code, errorCode, message] of cases) {
      const r = await posthorn(clock, ...args);
      assert.equal(r.code, code, args.join(' '));
      assert.equal(r.err.endsWith('\n') && r.err.split('\n').length, 2, `one line: ${r.err}`);
      const report = JSON.parse(r.err) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(report), ['error']);
      assert.deepEqual(Object.keys(report.error), ['code', 'message']);
      assert.equal(report.error.code, errorCode, args.join(' '));
      assert.match(report.error.message, message, args.join(' '));
    }
    assert.deepEqual(names(dir, 'active'), [waiting], 'nothing changed');
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
      const { out: stdout, code } = await posthornProcess(['spool', 'send', dir, id as string]);
      assert.equal(code, 0);
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

describe('cli: posthorn spool --data / --config (a server notification spools)', () => {
  /** A server's data folder whose notifications folder has two slots, each with a sample spool. */
  async function dataFolder(notifications = 'notifications') {
    const data = tempSpoolDir('posthorn-spool-data-');
    const clock = new FakeClock();
    const slot0 = await sampleSpool(join(data, notifications, '0', 'spool'), clock);
    const slot1 = await sampleSpool(join(data, notifications, '1', 'spool'), clock);
    return { data, clock, slot0, slot1 };
  }

  it('status --data finds every slot spool and names the slot', async () => {
    const { data, clock, slot0, slot1 } = await dataFolder();
    const table = await posthorn(clock, 'status', '--data', data);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out.split('\n')[0] ?? '', /^slot\s+id\s+state\s+next attempt/);
    assert.match(table.out, new RegExp(`\\n0\\s+${slot0.waiting}\\s+send-at`));
    assert.match(table.out, new RegExp(`\\n1\\s+${slot1.waiting}\\s+send-at`));
    assert.match(
      table.out,
      /\n6 messages in 2 spools: 2 active, 2 frozen, 0 removed, 2 quarantine, 0 busy; 4 waiting or frozen\n$/,
    );

    const json = JSON.parse((await posthorn(clock, 'status', '--data', data, '--json')).out) as {
      spools: { slot: number; dir: string }[];
      messages: { id: string; slot: number }[];
    };
    assert.deepEqual(json.spools, [
      { slot: 0, dir: join(data, 'notifications', '0', 'spool') },
      { slot: 1, dir: join(data, 'notifications', '1', 'spool') },
    ]);
    const slotOf = new Map(json.messages.map((m) => [m.id, m.slot]));
    assert.equal(slotOf.get(slot0.held), 0);
    assert.equal(slotOf.get(slot1.held), 1);
    assert.equal(json.messages.length, 6);

    // With --data every argument is a message id.
    const one = JSON.parse((await posthorn(clock, 'status', '--data', data, slot1.frozen, '--json')).out) as {
      messages: { id: string; slot: number }[];
    };
    assert.deepEqual(
      one.messages.map((m) => [m.id, m.slot]),
      [[slot1.frozen, 1]],
    );
  });

  it('the other subcommands act in whichever slot holds each message, and refuse before changing any', async () => {
    const { data, clock, slot0, slot1 } = await dataFolder();
    const frozen = await posthorn(clock, 'freeze', '--data', data, slot0.waiting, slot1.waiting);
    assert.equal(frozen.code, 0, frozen.err);
    assert.equal(frozen.out, `frozen ${slot0.waiting} (now frozen)\nfrozen ${slot1.waiting} (now frozen)\n`);
    assert.deepEqual(names(slot0.dir, 'active'), []);
    assert.deepEqual(names(slot1.dir, 'active'), []);

    // slot 0's message may be removed, slot 1's held one may not: neither is.
    const refused = await posthorn(clock, 'remove', '--data', data, slot0.waiting, slot1.held);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^posthorn spool remove: spool message "[^"]+": is quarantined; only a frozen message/);
    assert.deepEqual(names(slot0.dir, 'frozen').sort(), [slot0.frozen, slot0.waiting].sort());

    const sent = await posthorn(clock, 'send', '--data', data, '--frozen', '--json');
    assert.equal(sent.code, 0, sent.err);
    assert.deepEqual(
      (JSON.parse(sent.out) as { sent: string[] }).sent.sort(),
      [slot0.frozen, slot0.waiting, slot1.frozen, slot1.waiting].sort(),
    );
    const missing = `${'0'.repeat(32)}-0`;
    const unknown = await posthorn(clock, 'freeze', '--data', data, missing);
    assert.equal(unknown.err, `posthorn spool freeze: spool message "${missing}" does not exist\n`);
    assert.equal(unknown.code, 1);
  });

  it('--config finds data and [notification] spool_dir as serve does, relative to the working folder', async () => {
    const { data, clock, slot1 } = await dataFolder('elsewhere');
    writeFileSync(join(data, 'posthorn.toml'), 'data = "."\n[notification]\nspool_dir = "elsewhere"\n');
    const byConfig = await run(
      { clock, cwd: data },
      'spool',
      'status',
      '--config',
      'posthorn.toml',
      slot1.held,
      '--json',
    );
    assert.equal(byConfig.code, 0, byConfig.err);
    assert.deepEqual(
      (JSON.parse(byConfig.out) as { messages: { id: string }[] }).messages.map((m) => m.id),
      [slot1.held],
    );
    // The environment moves it as it moves serve's; --data is relative to the working folder.
    const byEnv = await run(
      { clock, cwd: join(data, '..'), env: { POSTHORN_NOTIFICATION_SPOOL_DIR: 'elsewhere' } },
      'spool',
      'status',
      '--data',
      basename(data),
      '--json',
    );
    assert.equal(byEnv.code, 0, byEnv.err);
    assert.equal((JSON.parse(byEnv.out) as { messages: unknown[] }).messages.length, 6);
  });

  it('says when there is no notification spool, and refuses a folder and --data together', async () => {
    const empty = tempSpoolDir('posthorn-spool-data-');
    const none = await posthorn(new FakeClock(), 'status', '--data', empty);
    assert.equal(none.code, 1);
    assert.equal(
      none.err,
      `posthorn spool status: ${join(empty, 'notifications')} is not a usable spool: the folder does not exist: has a server run with this data folder?\n`,
    );
    mkdirSync(join(empty, 'notifications'));
    const noSlot = await posthorn(new FakeClock(), 'status', '--data', empty, '--json');
    assert.deepEqual(JSON.parse(noSlot.err), {
      error: {
        code: 'PH_NOT_A_SPOOL',
        message: `${join(empty, 'notifications')} is not a usable spool: it holds no notification spool (<n>/spool): has a server run with this data folder?`,
      },
    });
    const { data, clock } = await dataFolder();
    const both = await posthorn(clock, 'status', join(data, 'notifications', '0', 'spool'), '--data', data);
    assert.equal(both.code, 2);
    assert.match(both.err, /^posthorn spool status: give the spool folder \(.*\) or --data\/--config, not both\n$/);
  });
});
