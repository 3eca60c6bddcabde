import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiskStorage } from '../../src/compat/index.js';
import type { Envelope } from '../../src/core/index.js';
import { InvalidArgumentError, ResourceNotFoundError } from '../../src/core/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-slimta-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function storage(): { s: DiskStorage; dirs: [string, string, string] } {
  const base = join(root, `s${n++}`);
  const dirs: [string, string, string] = [join(base, 'env'), join(base, 'meta'), join(base, 'tmp')];
  return { s: new DiskStorage(...dirs), dirs };
}

const mail = (body: Uint8Array, recipients = ['a@example.org', 'b@example.org', 'c@example.org']): Envelope => ({
  sender: 'sender@example.org',
  recipients,
  headers: [
    ['Received', 'from a'],
    ['Received', 'from b'],
    ['Subject', 'héllo'],
  ],
  body,
});

async function all(s: DiskStorage): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for await (const entry of s.load()) out.push(entry);
  return out;
}

describe('compat: slimta DiskStorage', () => {
  it('an envelope survives the round trip byte for byte, in its own file, apart from its metadata', async () => {
    const { s, dirs } = storage();
    const body = Buffer.concat([
      Buffer.from('Subject: x\r\n\r\nline\r\n.\r\n\0'),
      randomBytes(70_000),
      Buffer.from([0xff, 0xfe, 0xc3]),
    ]);
    const id = await s.write(mail(body), 1_700_000_000.5);
    assert.match(id, /^[0-9a-f]{32}$/);
    const [envelope, attempts] = await s.get(id);
    assert.equal(attempts, 0);
    assert.equal(envelope.sender, 'sender@example.org');
    assert.deepEqual(envelope.recipients, ['a@example.org', 'b@example.org', 'c@example.org']);
    assert.deepEqual(envelope.headers, mail(body).headers);
    assert.ok(Buffer.from(envelope.body).equals(body), 'body bytes identical');
    assert.deepEqual(readdirSync(dirs[0]), [`${id}.env`]);
    assert.deepEqual(readdirSync(dirs[1]), [`${id}.meta`]);
    assert.deepEqual(readdirSync(dirs[2]), [], 'no scratch left behind');
  });

  it('timestamps, attempts and delivered recipients are kept, and load lists every message', async () => {
    const { s } = storage();
    const a = await s.write(mail(Buffer.from('a')), 100);
    const b = await s.write(mail(Buffer.from('b')), 200);
    await s.setTimestamp(a, 300);
    assert.equal(await s.incrementAttempts(a), 1);
    assert.equal(await s.incrementAttempts(a), 2);
    const counts = await Promise.all([s.incrementAttempts(b), s.incrementAttempts(b), s.incrementAttempts(b)]);
    assert.deepEqual(counts.sort(), [1, 2, 3], 'concurrent increments do not lose counts');
    await s.setRecipientsDelivered(a, [0, 2]);
    await s.setRecipientsDelivered(a, [2]);
    const [envelope, attempts] = await s.get(a);
    assert.deepEqual(envelope.recipients, ['b@example.org']);
    assert.equal(attempts, 2);
    assert.deepEqual(
      (await all(s)).sort(),
      [
        [200, b],
        [300, a],
      ].sort(),
    );
    // Another instance over the same folders (a restart) sees the same.
    const again = new DiskStorage(s.envDir, s.metaDir, s.tmpDir);
    assert.deepEqual(
      (await all(again)).sort(),
      [
        [200, b],
        [300, a],
      ].sort(),
    );
    assert.equal((await again.get(b))[1], 3);
  });

  it('remove takes a message out; unknown ids are a not-found error', async () => {
    const { s, dirs } = storage();
    const id = await s.write(mail(Buffer.from('x')), 1);
    await s.remove(id);
    assert.deepEqual(await all(s), []);
    assert.deepEqual(readdirSync(dirs[0]), []);
    const unknown = 'f'.repeat(32);
    for (const call of [
      () => s.get(id),
      () => s.remove(id),
      () => s.setTimestamp(unknown, 1),
      () => s.incrementAttempts(unknown),
    ]) {
      await assert.rejects(call(), ResourceNotFoundError);
    }
  });

  it('bad input is a typed error naming the field, and writes nothing', async () => {
    const { s, dirs } = storage();
    const id = await s.write(mail(Buffer.from('x')), 1);
    const bad: [string, () => Promise<unknown>][] = [
      ['envelope.body', () => s.write({ ...mail(Buffer.from('x')), body: 42 as unknown as Uint8Array }, 1)],
      ['envelope.recipients', () => s.write(mail(Buffer.from('x'), []), 1)],
      ['envelope.headers[0]', () => s.write({ ...mail(Buffer.from('x')), headers: [['only-name']] as never }, 1)],
      ['timestamp', () => s.write(mail(Buffer.from('x')), Number.NaN)],
      ['id', () => s.get('../../etc/passwd')],
      ['rcptIndexes[0]', () => s.setRecipientsDelivered(id, [3])],
    ];
    for (const [field, call] of bad) {
      await assert.rejects(call(), (e) => e instanceof InvalidArgumentError && e.field === field, field);
    }
    assert.equal(readdirSync(dirs[0]).length, 1);
    assert.deepEqual((await s.get(id))[0].recipients.length, 3);
  });

  it('takes the envelope the Spool takes: a text body is stored as UTF-8, no headers is none', async () => {
    const { s } = storage();
    const id = await s.write({ sender: 'a@example.org', recipients: ['b@example.org'], body: 'Grüße' }, 1);
    const [envelope] = await s.get(id);
    assert.deepEqual(envelope.headers, []);
    assert.ok(Buffer.isBuffer(envelope.body));
    assert.equal(envelope.body.toString('utf8'), 'Grüße');
  });

  it('a scratch folder on another filesystem is refused', {
    skip: !existsSync('/dev/shm') && 'no /dev/shm here',
  }, () => {
    const base = join(root, 'cross');
    mkdirSync(base, { recursive: true });
    const shm = mkdtempSync('/dev/shm/posthorn-');
    try {
      assert.throws(
        () => new DiskStorage(join(base, 'env'), join(base, 'meta'), shm),
        (e) => e instanceof InvalidArgumentError && e.field === 'tmpDir' && /filesystem/.test(e.message),
      );
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});
