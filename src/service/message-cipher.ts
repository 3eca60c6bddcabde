import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomFillSync,
} from 'node:crypto';
import {
  DamagedMessageError,
  decodeValue,
  EncryptionKeyUnavailableError,
  encodeValue,
  InvalidArgumentError,
} from '../core/index.js';

/**
 * Encryption at rest of the bodies of queues with `_enable_encrypt_messages` (AES-256-GCM).
 *
 * The service seals a body before it reaches the store and opens it on every way out, so every
 * driver (disk, memory, Redis, PostgreSQL) keeps ciphertext without knowing it: to a store a
 * sealed body is just a byte array. A sealed body says what it is by its first bytes, so a read
 * decrypts by what each message is, never by the queue's current flag: turning the flag off
 * leaves older messages readable, and a queue move or a dead-letter move copies them as they are.
 *
 * Envelope, version 1 (all one byte array, the message's stored body):
 *
 *   offset  size  field
 *   0       4     magic 00 50 48 45 ("\0PHE": no JSON text and hardly any real binary starts so)
 *   4       1     version, 0x01
 *   5       1     n, the key id's length in bytes (1..255)
 *   6       n     key id, ASCII: which key of the ring sealed it
 *   6+n     12    nonce: 96 random bits, fresh for every message
 *   18+n    m     ciphertext of the body's MessagePack encoding (so any body type round-trips)
 *   18+n+m  16    GCM authentication tag
 *
 * Bytes 0..6+n (magic, version, key id) are the GCM additional data: a key id swapped in the
 * stored bytes fails authentication like any other tampering. The queue and message id are not
 * bound in, on purpose: moves between queues and pools copy stored bodies unchanged.
 */
const MAGIC = Buffer.from([0x00, 0x50, 0x48, 0x45]);
const VERSION = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ALGORITHM = 'aes-256-gcm';
const STRICT_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_ID_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Nonces drawn at once: randomBytes(12) per message cost more than the encryption itself. */
const NONCES_PER_DRAW = 512;

/** One key of the ring: 32 bytes and the id stored with what it seals. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The keys a server holds: the one that seals new messages, and older ones that still open. */
export interface KeyRing {
  readonly current: EncryptionKey | null;
  readonly old: readonly EncryptionKey[];
}

/** A key's id when none is given: the first 8 hex digits of its SHA-256 (names it, reveals nothing usable). */
export function deriveKeyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Reads a key given as base64 of 32 bytes (what `openssl rand -base64 32` prints); `field`
 * names the setting in the error. The id is derived unless given.
 */
export function readEncryptionKey(base64: string, field: string, id?: string): EncryptionKey {
  const text = base64.trim();
  if (!STRICT_BASE64.test(text) || text.length % 4 !== 0) {
    throw new InvalidArgumentError(field, 'must be base64 (make one with `openssl rand -base64 32`)');
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new InvalidArgumentError(
      field,
      `must be base64 of ${KEY_BYTES} bytes, not of ${key.length} (make one with \`openssl rand -base64 32\`)`,
    );
  }
  if (id !== undefined && !KEY_ID_PATTERN.test(id)) {
    throw new InvalidArgumentError(field, 'needs a key id of 1 to 255 printable ASCII characters without spaces');
  }
  return { id: id ?? deriveKeyId(key), key };
}

/** True when a stored body is a sealed envelope (of any version). */
export function isSealed(body: unknown): body is Uint8Array {
  return (
    body instanceof Uint8Array &&
    body.length > MAGIC.length &&
    body[0] === MAGIC[0] &&
    body[1] === MAGIC[1] &&
    body[2] === MAGIC[2] &&
    body[3] === MAGIC[3]
  );
}

/** Seals and opens message bodies with a key ring (see the envelope above). */
export class MessageCipher {
  private readonly current: EncryptionKey | null;
  private readonly currentKey: KeyObject | null;
  private readonly header: Buffer | null;
  // KeyObjects: node:crypto imports a raw key on every createCipheriv, a KeyObject once.
  private readonly keys = new Map<string, KeyObject>();
  // Random bytes for nonces, drawn from the CSPRNG in blocks and each 12-byte slice used once.
  // A process never shares this buffer (cluster workers are processes started afresh, not forks
  // of this memory), so no nonce repeats.
  private readonly nonces = Buffer.alloc(NONCE_BYTES * NONCES_PER_DRAW);
  private nonceAt = this.nonces.length;

  constructor(ring: KeyRing = { current: null, old: [] }) {
    this.current = ring.current;
    const raw = new Map<string, Buffer>();
    for (const k of [...(ring.current ? [ring.current] : []), ...ring.old]) {
      if (k.key.length !== KEY_BYTES) throw new RangeError(`key ${k.id} is not ${KEY_BYTES} bytes`);
      const known = raw.get(k.id);
      if (known !== undefined && !known.equals(k.key)) {
        throw new InvalidArgumentError('encryption', `two different keys have the id ${JSON.stringify(k.id)}`);
      }
      raw.set(k.id, k.key);
      if (known === undefined) this.keys.set(k.id, createSecretKey(k.key));
    }
    this.currentKey = ring.current ? (this.keys.get(ring.current.id) ?? null) : null;
    this.header = ring.current ? headerFor(ring.current.id) : null;
  }

  /** True when new messages can be sealed (a current key is set). */
  get canSeal(): boolean {
    return this.current !== null;
  }

  /** The current key's id, or null. */
  get currentKeyId(): string | null {
    return this.current?.id ?? null;
  }

  /** The envelope of `body` under the current key. */
  seal(body: unknown, queue: string): Buffer {
    if (this.currentKey === null || this.header === null) {
      throw new EncryptionKeyUnavailableError(
        `queue ${queue} stores its messages encrypted (_enable_encrypt_messages), but this server has no [encryption] key`,
        null,
      );
    }
    const nonce = this.nextNonce();
    const cipher = createCipheriv(ALGORITHM, this.currentKey, nonce);
    cipher.setAAD(this.header);
    const sealed = Buffer.concat([cipher.update(encodeValue(body)), cipher.final()]);
    return Buffer.concat([this.header, nonce, sealed, cipher.getAuthTag()]);
  }

  private nextNonce(): Buffer {
    if (this.nonceAt + NONCE_BYTES > this.nonces.length) {
      randomFillSync(this.nonces);
      this.nonceAt = 0;
    }
    // No copy: seal() hands it to createCipheriv and Buffer.concat, which both copy, before any next draw.
    const nonce = this.nonces.subarray(this.nonceAt, this.nonceAt + NONCE_BYTES);
    this.nonceAt += NONCE_BYTES;
    return nonce;
  }

  /**
   * The body a stored body stands for: itself when it is not sealed, else its plaintext.
   * A key the ring lacks is EncryptionKeyUnavailableError (naming the key id); an envelope that
   * fails authentication, or that this version cannot read, is DamagedMessageError.
   */
  open(body: unknown, queue: string, messageId: string): unknown {
    if (!isSealed(body)) return body;
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const damaged = (why: string, cause?: unknown) =>
      new DamagedMessageError(
        `message ${messageId} of queue ${queue} is damaged: its encrypted body ${why}; it is not served`,
        messageId,
        queue,
        cause === undefined ? undefined : { cause },
      );
    if (bytes[4] !== VERSION) throw damaged(`has envelope version ${String(bytes[4])}, which this server cannot read`);
    const idLength = bytes[5] ?? 0;
    const start = 6 + idLength;
    if (idLength === 0 || bytes.length < start + NONCE_BYTES + TAG_BYTES) throw damaged('is cut short');
    const keyId = bytes.subarray(6, start).toString('latin1');
    const key = this.keys.get(keyId);
    if (key === undefined) {
      throw new EncryptionKeyUnavailableError(
        `message ${messageId} of queue ${queue} is encrypted with key id ${keyId}, which this server does not hold: ` +
          'add that key to [encryption] old_keys to read it',
        keyId,
      );
    }
    const nonce = bytes.subarray(start, start + NONCE_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv(ALGORITHM, key, nonce);
      decipher.setAAD(bytes.subarray(0, start));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([
        decipher.update(bytes.subarray(start + NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (error) {
      throw damaged(`fails authentication under key id ${keyId}`, error);
    }
    try {
      return decodeValue(plain);
    } catch (error) {
      throw damaged('decrypts to bytes that are no MessagePack value', error);
    }
  }
}

function headerFor(id: string): Buffer {
  const idBytes = Buffer.from(id, 'latin1');
  return Buffer.concat([MAGIC, Buffer.from([VERSION, idBytes.length]), idBytes]);
}
