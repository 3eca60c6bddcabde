import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FakeClock,
  FolderLock,
  InvalidArgumentError,
  LockedError,
  NotASpoolError,
  ResourceConflictError,
  ResourceNotFoundError,
} from '../../src/core/index.js';
import { Multispool, type SpoolLog, silentLog } from '../../src/multispool/index.js';
import {
  type Bounce,
  type DeliveryFunction,
  type DeliveryJob,
  type DeliveryReport,
  type SmtpHop,
  Spool,
  type SpoolEvent,
  SpoolFolder,
  type SpoolOptions,
  smtpDelivery,
} from '../../src/spool/index.js';
import { spoolSpoolable } from '../../src/spool/spool-folder.js';
import { type SmtpSink, startSmtpSink } from '../fixtures/spool-smtp-sink.js';
import { removeTempSpoolDirs, tempSpoolDir } from '../fixtures/spool-spoolable.js';

const S = 1000;
const open: Spool<unknown>[] = [];
const sinks: SmtpSink[] = [];

after(async () => {
  for (const spool of open) await spool.close({ timeout: Promise.resolve() });
  for (const sink of sinks) await sink.close();
  removeTempSpoolDirs();
});

async function sink(): Promise<SmtpSink> {
  const s = await startSmtpSink();
  sinks.push(s);
  return s;
}

async function spoolWith<H = SmtpHop | null>(options: Partial<SpoolOptions<H>> & { deliver: DeliveryFunction<H> }) {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock();
  const spool = await Spool.create<H>({ dir: tempSpoolDir('posthorn-spool-'), log: silentLog, ...options, clock });
  open.push(spool as Spool<unknown>);
  const events: SpoolEvent[] = [];
  void (async () => {
    for await (const e of spool.events()) events.push(e);
  })();
  /** Waits (in real time; 30 s is a deadline for a busy machine) until an event matches. */
  const until = async (match: (e: SpoolEvent) => boolean, what = 'an event'): Promise<SpoolEvent> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = events.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(events.map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { spool, clock, events, until };
}

const mail = (recipients: string[], subject = 'hello') => ({
  sender: 'ada@example.org',
  recipients,
  headers: [
    ['From', 'ada@example.org'],
    ['Subject', subject],
  ] as [string, string][],
  body: `Dear reader,\r\n${subject}\r\n`,
});

const deliverOk = async (): Promise<DeliveryReport> => 'delivered';

const files = (dir: string, queue: string) => readdirSync(join(dir, queue)).filter((n) => !n.startsWith('.'));

describe('spool: delivering mail to an SMTP sink', () => {
  it('delivers at once, with headers and body, and leaves nothing on disk', async () => {
    const smtp = await sink();
    const { spool, until } = await spoolWith({ deliver: smtpDelivery({ port: smtp.port }) });
    const [id] = await spool.add(mail(['bob@example.org', 'eve@example.org']));
    await until((e) => e.type === 'delivered' && e.id === id, 'delivered');
    assert.equal(smtp.received.length, 1);
    assert.deepEqual(smtp.received[0]?.to, ['bob@example.org', 'eve@example.org']);
    assert.equal(smtp.received[0]?.from, 'ada@example.org');
    assert.match(smtp.received[0]?.raw ?? '', /^From: ada@example.org\r\nSubject: hello\r\n\r\nDear reader,/);
    assert.equal(await spool.countFromDisk(), 0);
    assert.deepEqual(spool.status().messages, []);
    assert.deepEqual(files(spool.dir, 'active'), []);
  });

  it('retries only the recipients not yet delivered, on the retry intervals of the fake clock, then delivers', async () => {
    const smtp = await sink();
    smtp.script('slow@example.org', 451, 451);
    const { spool, clock, events, until } = await spoolWith({
      deliver: smtpDelivery({ port: smtp.port }),
      retryIntervals: [60 * S, 300 * S, 900 * S],
    });
    const start = clock.now();
    const [id] = await spool.add(mail(['fast@example.org', 'slow@example.org']));
    const first = await until((e) => e.type === 'delayed', 'the first delay');
    assert.deepEqual(first, {
      type: 'delayed',
      id,
      at: start,
      until: start + 60 * S,
      reason: first.type === 'delayed' ? first.reason : '',
      delivered: ['fast@example.org'],
      failed: [],
    });
    assert.match((first as { reason: string }).reason, /451/);
    assert.equal(smtp.count('fast@example.org'), 1);
    const info = spool.status().messages[0];
    assert.equal(info?.state, 'send-at');
    assert.equal(info?.nextAttemptAt, start + 60 * S);
    assert.equal(info?.attempts, 1);
    assert.deepEqual(
      info?.recipients.map((r) => [r.address, r.state]),
      [
        ['fast@example.org', 'delivered'],
        ['slow@example.org', 'pending'],
      ],
    );

    await clock.advanceAsync(60 * S - 1);
    await spool.whenIdle();
    assert.equal(events.filter((e) => e.type === 'delivering').length, 1, 'not before its time');
    await clock.advanceAsync(1);
    await until((e) => e.type === 'delayed' && e.until === start + 60 * S + 300 * S, 'the second delay');
    await clock.advanceAsync(300 * S);
    await until((e) => e.type === 'delivered', 'delivery');
    const attempts = events.filter((e) => e.type === 'delivering');
    assert.deepEqual(
      attempts.map((e) => [e.at - start, (e as { recipients: string[] }).recipients]),
      [
        [0, ['fast@example.org', 'slow@example.org']],
        [60 * S, ['slow@example.org']],
        [360 * S, ['slow@example.org']],
      ],
    );
    assert.equal(smtp.count('fast@example.org'), 1, 'a delivered recipient is not sent again');
    assert.equal(smtp.count('slow@example.org'), 1);
    assert.equal(await spool.countFromDisk(), 0);
  });

  it('freezes when the intervals run out; send unfreezes with new intervals and delivers', async () => {
    const smtp = await sink();
    smtp.script('down@example.org', 451, 451, 451, 451);
    const { spool, clock, events, until } = await spoolWith({
      deliver: smtpDelivery({ port: smtp.port }),
      retryIntervals: [10 * S, 20 * S],
    });
    const [id] = await spool.add(mail(['down@example.org']));
    await until((e) => e.type === 'delayed');
    await clock.advanceAsync(10 * S);
    await until((e) => e.type === 'delayed' && e.until === clock.now() + 20 * S);
    await clock.advanceAsync(20 * S);
    const frozen = await until((e) => e.type === 'frozen', 'frozen');
    assert.deepEqual(frozen, { type: 'frozen', id, at: clock.now(), reason: 'retry intervals exhausted' });
    const info = spool.status().messages[0];
    assert.equal(info?.state, 'frozen');
    assert.equal(info?.attempts, 3);
    assert.match(info?.lastError ?? '', /451/);
    assert.deepEqual(files(spool.dir, 'frozen'), [id]);
    await clock.advanceAsync(3600 * S);
    assert.equal(events.filter((e) => e.type === 'delivering').length, 3, 'a frozen message is not tried');

    await spool.send({ which: 'frozen', retryIntervals: [5 * S] });
    await until((e) => e.type === 'unfrozen' && e.id === id);
    await until((e) => e.type === 'delayed' && e.until === clock.now() + 5 * S, 'a delay on the new interval');
    await clock.advanceAsync(5 * S);
    await until((e) => e.type === 'delivered');
    assert.equal(smtp.count('down@example.org'), 1);
    assert.equal(smtp.rcpts.filter((r) => r === 'down@example.org').length, 5);
  });

  it('a 5xx reply fails the recipient for good: frozen without a bounce hook, bounced with one', async () => {
    const smtp = await sink();
    smtp.script('gone@example.org', 550);
    const { spool, until } = await spoolWith({ deliver: smtpDelivery({ port: smtp.port }) });
    const [id] = await spool.add(mail(['gone@example.org', 'here@example.org']));
    const frozen = await until((e) => e.type === 'frozen');
    assert.equal((frozen as { reason: string }).reason, 'failed for good: gone@example.org');
    assert.equal(smtp.count('here@example.org'), 1);
    const info = spool.status().messages.find((m) => m.id === id);
    assert.equal(info?.recipients.find((r) => r.address === 'gone@example.org')?.state, 'failed');
    assert.match(info?.recipients.find((r) => r.address === 'gone@example.org')?.reason ?? '', /550/);

    const smtp2 = await sink();
    smtp2.script('gone@example.org', 550);
    const bounces: Bounce<SmtpHop | null>[] = [];
    const bounced = await spoolWith({
      deliver: smtpDelivery({ port: smtp2.port }),
      bounce: (b) => {
        bounces.push(b);
      },
    });
    const [id2] = await bounced.spool.add(mail(['gone@example.org', 'here@example.org']));
    await bounced.until((e) => e.type === 'bounced');
    assert.equal(bounces.length, 1);
    assert.equal(bounces[0]?.id, id2);
    assert.deepEqual(bounces[0]?.delivered, ['here@example.org']);
    assert.deepEqual(
      bounces[0]?.failed.map((f) => f.recipient),
      ['gone@example.org'],
    );
    assert.deepEqual(bounces[0]?.envelope.recipients, ['gone@example.org', 'here@example.org']);
    assert.equal(await bounced.spool.countFromDisk(), 0);

    const broken = await spoolWith({
      deliver: async () => ({ 'x@example.org': { status: 'failed', reason: '550 no' } }),
      bounce: () => {
        throw new Error('cannot bounce');
      },
    });
    await broken.spool.add(mail(['x@example.org']));
    const kept = await broken.until((e) => e.type === 'frozen');
    assert.equal((kept as { reason: string }).reason, 'bounce failed: cannot bounce');
    assert.equal(await broken.spool.countFromDisk(), 1);
  });
});

describe('spool: operators', () => {
  it('freeze, remove (frozen only), recover, quarantine by id and send, each with its event', async () => {
    const delivered: string[] = [];
    const { spool, clock, until } = await spoolWith({
      deliver: async (job) => {
        if (job.attempt === 1)
          return { [job.envelope.recipients[0] as string]: { status: 'try-later', reason: 'busy' } };
        delivered.push(job.id);
        return 'delivered' as const;
      },
      retryIntervals: [60 * S],
    });
    const [id] = await spool.add(mail(['bob@example.org']));
    const msg = id as string;
    await until((e) => e.type === 'delayed');
    await assert.rejects(
      spool.remove([msg]),
      (e) => e instanceof ResourceConflictError && /freeze it first/.test(e.message),
    );
    assert.deepEqual(files(spool.dir, 'active'), [msg], 'a refused remove changes nothing');

    await spool.freeze([msg]);
    await until((e) => e.type === 'frozen' && e.id === msg);
    await clock.advanceAsync(120 * S);
    await spool.whenIdle();
    assert.deepEqual(delivered, [], 'a frozen message is not delivered when its time comes');

    await spool.remove([msg]);
    await until((e) => e.type === 'removed');
    assert.deepEqual(files(spool.dir, 'removed'), [msg]);
    assert.equal(await spool.countFromDisk(), 0, 'removed messages are not waiting');
    await assert.rejects(spool.recover({ ids: [msg], from: 'quarantined' }), ResourceConflictError);
    await spool.recover({ ids: [msg], from: 'removed' });
    await until((e) => e.type === 'recovered' && e.from === 'removed');
    assert.equal(spool.status().messages[0]?.state, 'frozen', 'recovered messages come back frozen');

    assert.deepEqual(await spool.quarantine([msg], { reason: 'looks like spam' }), [msg]);
    await until((e) => e.type === 'quarantined' && e.reason === 'looks like spam');
    assert.deepEqual(files(spool.dir, 'quarantine'), [msg]);
    assert.equal(spool.status().messages[0]?.quarantineReason, 'looks like spam');
    await spool.recover({ ids: [msg], from: 'quarantined' });
    await spool.send({ which: [msg] });
    await until((e) => e.type === 'delivered');
    assert.deepEqual(delivered, [msg]);
  });

  it('a message another process holds when it comes due is delivered once that process gives it back unchanged', async () => {
    const delivered: number[] = [];
    const { spool, clock, until } = await spoolWith({
      deliver: async (job): Promise<DeliveryReport> => {
        if (job.attempt === 1) return { 'a@x': { status: 'try-later', reason: 'busy' } };
        delivered.push(job.attempt);
        return 'delivered';
      },
      retryIntervals: [60 * S],
    });
    const [id] = await spool.add(mail(['a@x']));
    await until((e) => e.type === 'delayed');
    // Another process (an operator's command, say) checks the message out...
    const other = Multispool.loadUnsafe(spool.dir, spoolSpoolable, { log: silentLog });
    const held = await other.checkout(other.entry('active', id as string));
    await clock.advanceAsync(60 * S);
    // Idle: the attempt that came due has run, and found the message held.
    await spool.whenIdle();
    assert.deepEqual(delivered, [], 'not delivered while another process holds it');
    // ...and gives it back unchanged: the spool notices and delivers it.
    await held.release();
    await until((e) => e.type === 'delivered' && e.id === id, 'delivery after the release');
    assert.deepEqual(delivered, [2]);
  });

  it('quarantine(envelope, sections, reason) writes straight into quarantine and never delivers', async () => {
    let calls = 0;
    const { spool, clock, until } = await spoolWith({
      deliver: async () => {
        calls++;
        return 'delivered' as const;
      },
    });
    const ids = await spool.quarantine(
      mail(['a@example.org', 'b@example.org']),
      [{ recipients: ['a@example.org'] }, { recipients: ['b@example.org'] }],
      {
        reason: 'virus found',
      },
    );
    assert.equal(ids.length, 2);
    await until((e) => e.type === 'quarantined' && e.id === ids[1]);
    assert.deepEqual(files(spool.dir, 'quarantine').sort(), [...ids].sort());
    await clock.advanceAsync(3600 * S);
    await spool.send({ which: 'all' });
    await spool.whenIdle();
    assert.equal(calls, 0);
    await assert.rejects(
      spool.send({ which: [ids[0] as string] }),
      (e) => e instanceof ResourceConflictError && /recover it first/.test(e.message),
    );
  });

  it('sections are spooled and delivered apart, each with its next hop and only its recipients', async () => {
    const jobs: DeliveryJob<{ relay: string }>[] = [];
    const { spool, until } = await spoolWith<{ relay: string }>({
      deliver: async (job) => {
        jobs.push(job);
        return 'delivered' as const;
      },
    });
    const ids = await spool.add(mail(['a@one.example', 'b@two.example', 'c@one.example']), [
      { recipients: ['a@one.example', 'c@one.example'], nextHop: { relay: 'mx.one.example' } },
      { recipients: ['b@two.example'], nextHop: { relay: 'mx.two.example' } },
    ]);
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1]);
    await until((e) => e.type === 'delivered' && e.id === ids[0]);
    await until((e) => e.type === 'delivered' && e.id === ids[1]);
    const byId = new Map(jobs.map((j) => [j.id, j]));
    assert.deepEqual(byId.get(ids[0] as string)?.nextHop, { relay: 'mx.one.example' });
    assert.deepEqual(byId.get(ids[0] as string)?.envelope.recipients, ['a@one.example', 'c@one.example']);
    assert.deepEqual(byId.get(ids[1] as string)?.envelope.recipients, ['b@two.example']);
    assert.equal(byId.get(ids[1] as string)?.parentId, byId.get(ids[0] as string)?.parentId);
  });

  it('bad input is a typed error and changes nothing', async () => {
    const { spool } = await spoolWith({ deliver: deliverOk });
    const bad: [unknown, unknown, string][] = [
      [{ ...mail([]) }, undefined, 'envelope.recipients'],
      [{ ...mail(['a@x']), sender: 'a\r\nRCPT TO:<evil@x>' }, undefined, 'envelope.sender'],
      [{ ...mail(['a@x']), headers: [['Bad Name', 'x']] }, undefined, 'envelope.headers[0]'],
      [{ ...mail(['a@x']), headers: [['Subject', 'x\r\nBcc: evil@x']] }, undefined, 'envelope.headers[0]'],
      [{ ...mail(['a@x']), body: 42 }, undefined, 'envelope.body'],
      [mail(['a@x']), [], 'sections'],
      [mail(['a@x']), [{ recipients: ['stranger@x'] }], 'sections[0].recipients'],
      [mail(['a@x']), [{ retryIntervals: [-1] }], 'sections[0].retryIntervals[0]'],
      [mail(['a@x']), [{ nextHop: { big: 10n } }], 'sections[0].nextHop'],
    ];
    for (const [envelope, sections, field] of bad) {
      await assert.rejects(
        spool.add(envelope as never, sections as never),
        (e) => e instanceof InvalidArgumentError && e.field === field,
        field,
      );
    }
    await assert.rejects(spool.freeze(['nope']), (e) => e instanceof InvalidArgumentError && e.field === 'ids[0]');
    await assert.rejects(spool.freeze([`${'0'.repeat(32)}-0`]), ResourceNotFoundError);
    await assert.rejects(spool.recover({ ids: [], from: 'trash' as 'removed' }), InvalidArgumentError);
    await assert.rejects(
      spool.quarantine([], { reason: '' }),
      (e) => e instanceof InvalidArgumentError && e.field === 'reason',
    );
    assert.throws(() => spool.setMaxConcurrentJobs(0), InvalidArgumentError);
    assert.equal(await spool.countFromDisk(), 0);
    for (const q of ['active', 'frozen', 'removed', 'quarantine']) assert.deepEqual(files(spool.dir, q), [], q);
    assert.deepEqual(readdirSync(join(spool.dir, '.data')), []);
  });

  it('a folder that is not a spool, or one locked by another spool, is refused and left as it was', async () => {
    const dir = tempSpoolDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await assert.rejects(Spool.create({ dir, deliver: deliverOk, log: silentLog }), NotASpoolError);
    assert.deepEqual(readdirSync(dir), ['notes.txt'], 'no lock file or folders left');
    const missing = join(dir, 'missing');
    await assert.rejects(Spool.create({ dir: missing, deliver: deliverOk, createIfMissing: false }), NotASpoolError);
    assert.equal(existsSync(missing), false);

    const { spool } = await spoolWith({ deliver: deliverOk });
    await assert.rejects(
      Spool.create({ dir: spool.dir, deliver: deliverOk, log: silentLog }),
      (e) => e instanceof LockedError && e.ownerPid === process.pid,
    );
    await assert.rejects(
      Spool.create({ dir, deliver: 'nope' as never }),
      (e) => e instanceof InvalidArgumentError && e.field === 'deliver',
    );
  });
});

describe('spool: time limits and concurrency', () => {
  it('a delivery that never returns is cut off by the delivery timeout and retried', async () => {
    const signals: AbortSignal[] = [];
    let attempt = 0;
    const { spool, clock, until } = await spoolWith({
      deliver: (job) => {
        attempt++;
        signals.push(job.signal);
        return attempt === 1 ? new Promise<never>(() => {}) : ('delivered' as const);
      },
      deliveryTimeoutMs: 30 * S,
      retryIntervals: [60 * S],
    });
    await spool.add(mail(['a@example.org']));
    await until((e) => e.type === 'delivering');
    await clock.advanceAsync(30 * S - 1);
    assert.equal(signals[0]?.aborted, false);
    await clock.advanceAsync(1);
    const delayed = await until((e) => e.type === 'delayed');
    assert.equal((delayed as { reason: string }).reason, 'delivery timed out after 30000 ms');
    assert.equal(signals[0]?.aborted, true);
    await clock.advanceAsync(60 * S);
    await until((e) => e.type === 'delivered');
  });

  it('killAndFlush returns timeout while a slow delivery runs, finished once it ends; waiting messages stay', async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { spool, clock, until } = await spoolWith({
      deliver: async () => {
        await gate;
        return 'delivered' as const;
      },
      maxConcurrentJobs: 1,
    });
    const [first] = await spool.add(mail(['a@example.org']));
    await until((e) => e.type === 'delivering' && e.id === first);
    await spool.add(mail(['b@example.org']));
    const flushing = spool.killAndFlush({ timeout: 5 * S });
    await clock.advanceAsync(5 * S);
    assert.equal(await flushing, 'timeout');
    const again = spool.killAndFlush();
    release();
    assert.equal(await again, 'finished');
    await until((e) => e.type === 'delivered' && e.id === first);
    await clock.advanceAsync(60 * S);
    assert.equal(spool.status().killed, true);
    assert.equal(spool.status().running, 0);
    assert.equal(await spool.countFromDisk(), 1, 'the waiting message is left for the next start');
    assert.equal(spool.status().messages[0]?.state, 'send-now');
  });

  it('setMaxConcurrentJobs bounds the deliveries started after it, without interrupting running ones', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const { spool, until, events } = await spoolWith({
      deliver: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return 'delivered' as const;
      },
      maxConcurrentJobs: 3,
    });
    for (let i = 0; i < 10; i++) await spool.add(mail([`r${i}@example.org`]));
    await until(() => gates.length === 3);
    // The spool starts jobs synchronously when it pumps (every add did): a fourth would show here.
    assert.equal(spool.status().running, 3);
    assert.equal(gates.length, 3);
    spool.setMaxConcurrentJobs(5);
    await until(() => gates.length === 5);
    spool.setMaxConcurrentJobs(1);
    peak = 0;
    gates.shift()?.();
    // Once that delivery's job has ended (its event is out; the job's end pumps the spool), no
    // new one has started while 4 run under a limit of 1.
    await until((e) => e.type === 'delivered');
    assert.equal(spool.status().running, 4, 'no new job starts while 4 run under a limit of 1');
    assert.equal(running, 4, 'running deliveries go on');
    while (events.filter((e) => e.type === 'delivered').length < 10) {
      gates.shift()?.();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(peak, 1, 'after the limit fell to 1, each new delivery started alone');
    const starts = events.filter((e) => e.type === 'delivering').length;
    assert.equal(starts, 10);
  });
});

describe('spool: restarts and damage', () => {
  it('leaves a new folder alone when another process locked it first (two servers starting at once)', async () => {
    const dir = join(tempSpoolDir('posthorn-spool-'), 'new');
    // Another process takes the folder between this call making it and locking it, and starts filling it.
    const acquire = FolderLock.acquire;
    FolderLock.acquire = (folder: string) => {
      writeFileSync(join(folder, 'theirs'), 'x');
      throw new LockedError(folder, 4242);
    };
    try {
      await assert.rejects(Spool.create({ dir, deliver: deliverOk, log: silentLog }), LockedError);
    } finally {
      FolderLock.acquire = acquire;
    }
    assert.deepEqual(readdirSync(dir), ['theirs'], "the other process's folder is not removed");
  });

  it('a new folder whose opening fails is emptied under the lock; taken by another process at the release, it stays', async () => {
    const broken = new Error('the disk broke while the spool was loading');
    const open = SpoolFolder.open;
    SpoolFolder.open = async (...args) => {
      await open.apply(SpoolFolder, args); // the folder is filled, then the opening fails
      throw broken;
    };
    const release = FolderLock.prototype.release;
    let takeOver: ((folder: string) => void) | null = null;
    FolderLock.prototype.release = function (this: FolderLock) {
      release.call(this);
      takeOver?.(this.dir);
    };
    try {
      const alone = join(tempSpoolDir('posthorn-spool-'), 'new');
      await assert.rejects(Spool.create({ dir: alone, deliver: deliverOk, log: silentLog }), broken);
      assert.equal(existsSync(alone), false, 'what this call made is gone');

      // Another process takes the folder the moment the lock is released, and starts filling it.
      const dir = join(tempSpoolDir('posthorn-spool-'), 'new');
      takeOver = (folder) => writeFileSync(join(folder, 'theirs'), 'x');
      await assert.rejects(Spool.create({ dir, deliver: deliverOk, log: silentLog }), broken);
      assert.deepEqual(readdirSync(dir), ['theirs'], "the other process's folder is not removed");
    } finally {
      SpoolFolder.open = open;
      FolderLock.prototype.release = release;
    }
  });

  it('a restarted spool resumes schedules and keeps per-recipient results', async () => {
    const dir = tempSpoolDir('posthorn-spool-');
    const clock = new FakeClock();
    const sent: string[][] = [];
    const deliver: DeliveryFunction<unknown> = async (job) => {
      sent.push(job.envelope.recipients);
      return job.attempt === 1
        ? ({ 'a@x': 'delivered', 'b@x': { status: 'try-later', reason: 'later' } } as const)
        : ('delivered' as const);
    };
    const first = await Spool.create({ dir, deliver, clock, log: silentLog, retryIntervals: [60 * S] });
    await first.add(mail(['a@x', 'b@x']));
    await first.whenIdle();
    assert.equal(await first.close(), 'finished');
    assert.equal(existsSync(join(dir, '.lock')), false);

    clock.advance(3600 * S);
    const second = await Spool.create({ dir, deliver, clock, log: silentLog });
    open.push(second);
    const status = second.status().messages[0];
    assert.equal(status?.attempts, 1);
    await second.whenIdle();
    const deadline = Date.now() + 30_000; // a deadline for a busy machine
    while ((await second.countFromDisk()) > 0) {
      assert.ok(Date.now() < deadline, 'the resumed message is delivered');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(sent, [['a@x', 'b@x'], ['b@x']]);
  });

  it('metadata that does not decode puts the message in quarantine, rebuilt from its envelope, with a log line', async () => {
    const dir = tempSpoolDir('posthorn-spool-');
    const lines: string[] = [];
    const log: SpoolLog = (level, message) => lines.push(`${level} ${message}`);
    const first = await Spool.create({ dir, deliver: deliverOk, log, clock: new FakeClock() });
    const [id] = await first.quarantine(mail(['a@x']), [{}], { reason: 'hold' });
    await first.close();
    writeFileSync(join(dir, 'quarantine', id as string), 'PHMS 1 3\n{"i');
    const { spool } = await spoolWith({ deliver: deliverOk, dir, log } as never);
    const info = spool.status().messages[0];
    assert.equal(info?.id, id);
    assert.equal(info?.state, 'quarantined');
    assert.match(info?.quarantineReason ?? '', /metadata unreadable/);
    assert.deepEqual(
      info?.recipients.map((r) => r.address),
      ['a@x'],
    );
    assert.ok(existsSync(join(dir, '.corrupt', 'quarantine', id as string)), 'the unreadable file is kept aside');
    assert.ok(lines.some((l) => l.startsWith('warn') && l.includes('quarantined')));
    assert.match(readFileSync(join(dir, 'quarantine', id as string), 'utf8'), /^PHMS 1 /);
  });
});
