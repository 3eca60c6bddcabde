import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  DamagedMessageError,
  EncryptionKeyUnavailableError,
  FakeClock,
  makeLimits,
  silentLogger,
} from '../../src/core/index.js';
import {
  type EncryptionKey,
  type KeyRing,
  MessageCipher,
  messageChecksum,
  QueueService,
  RequestRefusedError,
  readEncryptionKey,
  storeLimits,
} from '../../src/service/index.js';
import { createDataDriver, type DataDriver } from '../../src/store/contract/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { MemoryEngine } from '../../src/store/memory/index.js';
import { createPostgresDriver } from '../../src/store/postgres/index.js';
import { createRedisDriver } from '../../src/store/redis/index.js';
import { adminQuery, DATABASE_URL, dropSchema, freshSchema, probePostgres } from '../store/postgres-support.js';
import { deleteKeys, listKeys, REDIS_URL, redisAnswers, uniquePrefix } from '../store/redis/support.js';

const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
const PROJECT = 'tenant-a';

function newKey(id?: string): EncryptionKey {
  return readEncryptionKey(randomBytes(32).toString('base64'), 'test key', id);
}

function service(driver: DataDriver, ring: KeyRing, clock: FakeClock): QueueService {
  return new QueueService({ driver, clock, encryption: ring, checksums: true });
}

/** A body no byte sequence of the store can hold by chance: it is either there in clear or not. */
function secretBody(): { text: string; nested: { n: number } } {
  return { text: `PLAINTEXT-${randomBytes(8).toString('hex')}`, nested: { n: 42 } };
}

/** One store under test: how to open it, and how to read every byte it holds of its messages. */
interface StoreUnderTest {
  name: string;
  skip: Promise<string | null>;
  open(clock: FakeClock): Promise<DataDriver>;
  rawBytes(): Promise<Buffer>;
  cleanup(): Promise<void>;
}

async function filesUnder(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(await readFile(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

function diskStore(): StoreUnderTest {
  let dir = '';
  return {
    name: 'disk',
    skip: Promise.resolve(null),
    async open(clock) {
      dir = await mkdtemp(join(tmpdir(), 'ph-crypt-'));
      return createDiskDriver({ dir, clock, logger: silentLogger, gcIntervalMs: 0, limits: storeLimits(makeLimits()) });
    },
    rawBytes: () => filesUnder(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

function memoryStore(): StoreUnderTest {
  let engine: MemoryEngine | null = null;
  return {
    name: 'memory',
    skip: Promise.resolve(null),
    async open(clock) {
      engine = new MemoryEngine(clock);
      return createDataDriver(engine, storeLimits(makeLimits()));
    },
    async rawBytes() {
      // The engine's body map is private; the test reads it to see what the store really keeps.
      const bodies = (engine as unknown as { bodies: Map<number, Buffer> }).bodies;
      assert.ok(bodies instanceof Map && bodies.size > 0, 'the memory engine keeps its bodies in a map');
      return Buffer.concat([...bodies.values()]);
    },
    cleanup: async () => {},
  };
}

function redisStore(): StoreUnderTest {
  const keyPrefix = uniquePrefix();
  let admin: Redis | null = null;
  return {
    name: 'redis',
    skip: redisAnswers(REDIS_URL).then((ok) => (ok ? null : `no Redis answers at ${REDIS_URL}`)),
    open: (clock) => createRedisDriver({ url: REDIS_URL, clock, keyPrefix, logger: silentLogger }),
    async rawBytes() {
      admin ??= new Redis(REDIS_URL);
      const parts: Buffer[] = [];
      for (const key of await listKeys(admin, keyPrefix)) {
        const type = await admin.type(key);
        if (type === 'string') parts.push((await admin.getBuffer(key)) ?? Buffer.alloc(0));
        else if (type === 'hash') {
          for (const [field, value] of Object.entries(await admin.hgetallBuffer(key))) {
            parts.push(Buffer.from(field), value);
          }
        }
      }
      return Buffer.concat(parts);
    },
    async cleanup() {
      admin ??= new Redis(REDIS_URL);
      await deleteKeys(admin, keyPrefix);
      admin.disconnect();
    },
  };
}

function postgresStore(): StoreUnderTest {
  const schema = freshSchema('crypt');
  return {
    name: 'postgres',
    skip: probePostgres().then((problem) => (problem === null ? null : `PostgreSQL at ${DATABASE_URL}: ${problem}`)),
    open: (clock) => createPostgresDriver({ url: DATABASE_URL, schema, clock }),
    async rawBytes() {
      const rows = await adminQuery<{ row: string }>(`SELECT m::text AS row FROM "${schema}".messages m`);
      assert.ok(rows.rows.length > 0, 'the messages table has rows');
      // Every column of every row, bytea as PostgreSQL prints it (hex): decode it back to bytes.
      return Buffer.concat(
        rows.rows.flatMap((r) => [
          Buffer.from(r.row),
          ...[...r.row.matchAll(/\\\\x([0-9a-f]+)/g)].map((m) => Buffer.from(m[1] ?? '', 'hex')),
        ]),
      );
    },
    cleanup: () => dropSchema(schema),
  };
}

for (const store of [diskStore(), memoryStore(), redisStore(), postgresStore()]) {
  const skip = await store.skip;
  describe(`encryption at rest: ${store.name}`, { skip: skip ?? false }, () => {
    after(() => store.cleanup());

    it('keeps no plaintext in the store, only the key id, and reads back the plaintext on every path', async () => {
      const clock = new FakeClock();
      const driver = await store.open(clock);
      try {
        const key = newKey();
        const svc = service(driver, { current: key, old: [] }, clock);
        await svc.queues.create(PROJECT, 'secret', { _enable_encrypt_messages: true });
        const bodies = [secretBody(), secretBody(), secretBody(), secretBody()];
        const ids = await svc.queues.post(PROJECT, 'secret', CLIENT, { messages: bodies.map((body) => ({ body })) });

        const raw = await store.rawBytes();
        for (const body of bodies) {
          assert.equal(raw.includes(Buffer.from(body.text)), false, `${body.text} is in the store in clear`);
        }
        assert.ok(raw.includes(Buffer.from(key.id)), 'the key id is stored with the ciphertext');

        const listed = await svc.queues.listMessages(PROJECT, 'secret', CLIENT, { echo: true });
        assert.deepEqual(
          listed.messages.map((m) => m.body),
          bodies,
        );
        // Zaqar's checksum is of the plaintext body, as a client computes it.
        assert.equal(listed.messages[0]?.checksum, messageChecksum(bodies[0]));
        assert.deepEqual((await svc.queues.getMessage(PROJECT, 'secret', ids[0] as string)).body, bodies[0]);
        assert.deepEqual(
          (await svc.queues.getMessages(PROJECT, 'secret', [ids[1] as string])).map((m) => m.body),
          [bodies[1]],
        );
        const claim = await svc.queues.claim(PROJECT, 'secret', { ttl: 60, grace: 60 }, 2);
        assert.deepEqual(
          claim?.messages.map((m) => m.body),
          bodies.slice(0, 2),
        );
        const again = await svc.queues.getClaim(PROJECT, 'secret', claim?.id as string);
        assert.deepEqual(
          again.messages.map((m) => m.body),
          bodies.slice(0, 2),
        );
        const popped = await svc.queues.pop(PROJECT, 'secret', 2);
        assert.deepEqual(
          popped.map((m) => m.body),
          bodies.slice(2),
        );
      } finally {
        await driver.close();
      }
    });
  });
}

describe('encryption at rest: keys and damage', () => {
  async function open() {
    const clock = new FakeClock();
    const engine = new MemoryEngine(clock);
    const driver = createDataDriver(engine, storeLimits(makeLimits()));
    return { clock, driver };
  }

  it('every seal takes a fresh nonce: the same body twice, and more than a draw of nonces, never repeat one', () => {
    const key = newKey('k1');
    const cipher = new MessageCipher({ current: key, old: [] });
    const seen = new Set<string>();
    const start = 6 + key.id.length;
    for (let i = 0; i < 2000; i++) {
      const sealed = cipher.seal('same body', 'q');
      seen.add(sealed.subarray(start, start + 12).toString('hex'));
      assert.equal(cipher.open(sealed, 'q', String(i)), 'same body');
    }
    assert.equal(seen.size, 2000);
  });

  it('rotation: messages sealed under the old key still read, new ones use the new key', async () => {
    const { clock, driver } = await open();
    const first = newKey('2026-06');
    const second = newKey('2026-12');
    const before = service(driver, { current: first, old: [] }, clock);
    await before.queues.create(PROJECT, 'q', { _enable_encrypt_messages: true });
    const oldBody = secretBody();
    await before.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: oldBody }] });

    const rotated = service(driver, { current: second, old: [first] }, clock);
    const newBody = secretBody();
    await rotated.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: newBody }] });
    const page = await rotated.queues.listMessages(PROJECT, 'q', CLIENT, { echo: true });
    assert.deepEqual(
      page.messages.map((m) => m.body),
      [oldBody, newBody],
    );
    const stored = await driver.messages.list(PROJECT, 'q', { echo: true });
    const keyIds = stored.messages.map((m) =>
      Buffer.from(m.body as Uint8Array)
        .subarray(6, 13)
        .toString('latin1'),
    );
    assert.deepEqual(keyIds, ['2026-06', '2026-12']);
  });

  it('a message under a key that was removed is a typed error naming the key id, and stays stored', async () => {
    const { clock, driver } = await open();
    const gone = newKey('retired-1');
    const writer = service(driver, { current: gone, old: [] }, clock);
    await writer.queues.create(PROJECT, 'q', { _enable_encrypt_messages: true });
    const [id] = await writer.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: secretBody() }] });

    const reader = service(driver, { current: newKey(), old: [] }, clock);
    const named = (error: unknown) => {
      assert.ok(error instanceof EncryptionKeyUnavailableError, String(error));
      assert.equal(error.keyId, 'retired-1');
      assert.match(error.message, /retired-1/);
      return true;
    };
    await assert.rejects(reader.queues.getMessage(PROJECT, 'q', id as string), named);
    await assert.rejects(reader.queues.listMessages(PROJECT, 'q', CLIENT, { echo: true }), named);
    await assert.rejects(reader.queues.claim(PROJECT, 'q', {}), named);
    await assert.rejects(reader.queues.pop(PROJECT, 'q', 1), named);
    // Nothing is lost or left claimed: a failed claim is released, a failed pop puts the message back.
    const stats = await reader.queues.stats(PROJECT, 'q');
    assert.equal(stats.total, 1);
    assert.equal(stats.claimed, 0);
    // With no key at all, the error still names the key.
    const keyless = service(driver, { current: null, old: [] }, clock);
    await assert.rejects(keyless.queues.listMessages(PROJECT, 'q', CLIENT, { echo: true }), named);
    // Putting the key back in old_keys serves it again.
    const restored = service(driver, { current: newKey(), old: [gone] }, clock);
    assert.equal((await restored.queues.listMessages(PROJECT, 'q', CLIENT, { echo: true })).messages.length, 1);
  });

  it('a tampered ciphertext is a damaged message, never served', async () => {
    const { clock, driver } = await open();
    const key = newKey();
    const svc = service(driver, { current: key, old: [] }, clock);
    await svc.queues.create(PROJECT, 'q', { _enable_encrypt_messages: true });
    await svc.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: secretBody() }] });
    const [stored] = (await driver.messages.list(PROJECT, 'q', { echo: true })).messages;
    const sealed = Buffer.from(stored?.body as Uint8Array);
    for (const at of [3 + 6 + key.id.length, sealed.length - 1, sealed.length - 20, 6]) {
      const tampered = Buffer.from(sealed);
      tampered[at] = (tampered[at] ?? 0) ^ 0x01;
      const [id] = await driver.messages.post(PROJECT, 'tampered', [{ body: tampered }], CLIENT);
      await assert.rejects(svc.queues.getMessage(PROJECT, 'tampered', id as string), (error: unknown) => {
        assert.ok(
          error instanceof DamagedMessageError || error instanceof EncryptionKeyUnavailableError,
          `byte ${at}: ${String(error)}`,
        );
        if (error instanceof DamagedMessageError) assert.equal(error.messageId, id);
        return true;
      });
      await driver.messages.delete(PROJECT, 'tampered', id as string);
    }
    // A flipped tag byte is damage, not a missing key.
    const tagFlipped = Buffer.from(sealed);
    tagFlipped[sealed.length - 1] = (tagFlipped[sealed.length - 1] ?? 0) ^ 0x80;
    const [id] = await driver.messages.post(PROJECT, 'tampered', [{ body: tagFlipped }], CLIENT);
    await assert.rejects(svc.queues.listMessages(PROJECT, 'tampered', CLIENT, { echo: true }), DamagedMessageError);
    await assert.rejects(svc.queues.getMessage(PROJECT, 'tampered', id as string), DamagedMessageError);
  });

  it('turning the flag off keeps older messages readable: each message is read by what it is', async () => {
    const { clock, driver } = await open();
    const svc = service(driver, { current: newKey(), old: [] }, clock);
    await svc.queues.create(PROJECT, 'q', { _enable_encrypt_messages: true });
    const sealedBody = secretBody();
    await svc.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: sealedBody }] });
    await svc.queues.patch(PROJECT, 'q', [{ op: 'replace', path: '/metadata/_enable_encrypt_messages', value: false }]);
    const plainBody = secretBody();
    await svc.queues.post(PROJECT, 'q', CLIENT, { messages: [{ body: plainBody }] });
    const stored = (await driver.messages.list(PROJECT, 'q', { echo: true })).messages;
    assert.ok(stored[0]?.body instanceof Uint8Array, 'the first is stored sealed');
    assert.deepEqual(stored[1]?.body, plainBody, 'the second is stored as posted');
    const page = await svc.queues.listMessages(PROJECT, 'q', CLIENT, { echo: true });
    assert.deepEqual(
      page.messages.map((m) => m.body),
      [sealedBody, plainBody],
    );
  });

  it('without a key, asking for encryption is refused on create and patch, and nothing changes', async () => {
    const { clock, driver } = await open();
    const svc = service(driver, { current: null, old: [] }, clock);
    await assert.rejects(svc.queues.create(PROJECT, 'q', { _enable_encrypt_messages: true }), (error: unknown) => {
      assert.ok(error instanceof RequestRefusedError);
      assert.equal(error.field, '_enable_encrypt_messages');
      return true;
    });
    assert.equal((await driver.queues.list(PROJECT, {})).queues.length, 0, 'no queue was made');
    await svc.queues.create(PROJECT, 'q', { color: 'red' });
    await assert.rejects(
      svc.queues.patch(PROJECT, 'q', [{ op: 'add', path: '/metadata/_enable_encrypt_messages', value: true }]),
      RequestRefusedError,
    );
    assert.deepEqual(await driver.queues.getMetadata(PROJECT, 'q'), { color: 'red' });
    await assert.rejects(svc.topics.create(PROJECT, 't', { _enable_encrypt_messages: true }), RequestRefusedError);
  });
});
