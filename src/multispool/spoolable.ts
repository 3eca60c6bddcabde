import { type Clock, CorruptDataError, newId, systemClock } from '../core/index.js';

/**
 * What a Multispool holds, declared once (async_smtp's `Spoolable`): the queues (one folder
 * each), the metadata type and the data type, each with its codec.
 *
 * Metadata is small and rewritten as an entry moves between queues; data is written once and
 * read only when asked for. Metadata is versioned: every metadata file records the version it
 * was written with, and `decode` is handed that version, so an entry written by an older release
 * still reads after an upgrade.
 */
export interface Spoolable<M, D, Q extends string = string> {
  readonly queues: readonly Q[];
  readonly metadata: MetadataCodec<M>;
  readonly data: DataCodec<D>;
}

export interface MetadataCodec<M> {
  /** The version written into every new metadata file; a positive integer. */
  readonly version: number;
  encode(metadata: M): Uint8Array | string;
  /** Reads metadata written with `version` (any version up to the current one); throws when it cannot. */
  decode(body: Buffer, version: number): M;
}

export interface DataCodec<D> {
  encode(data: D): Uint8Array | string;
  decode(bytes: Buffer): D;
}

/** Proposes entry names; `attempt` counts from 0 and grows each time a proposed name was taken. */
export interface NameGenerator {
  next(attempt: number): string;
}

/** Entry names: letters, digits, `_`, `-` and `.`, not starting with `-` or `.`, at most 200 characters. */
export const ENTRY_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

/** Queue names (folder names): letters, digits, `_` and `-`, not starting with `-`, at most 64 characters. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/**
 * Names that sort by creation time (32 hex characters, see core/ids), so a queue listed in name
 * order is roughly first-in first-out.
 */
export function timeOrderedNames(clock: Clock = systemClock): NameGenerator {
  return { next: () => newId(clock.now()) };
}

/**
 * JSON metadata with a reader per version: `read[v]` turns what version v wrote into today's
 * type (upgrading old shapes). Readable with `cat`, which operators of a spool appreciate.
 */
export function jsonMetadata<M>(options: {
  version: number;
  read: Record<number, (value: unknown) => M>;
  write?: (metadata: M) => unknown;
}): MetadataCodec<M> {
  const { version, read, write = (m: M) => m } = options;
  if (!Number.isInteger(version) || version < 1) throw new RangeError('a metadata version is a positive integer');
  if (!read[version]) throw new RangeError(`no reader for the current metadata version ${version}`);
  return {
    version,
    encode: (metadata) => JSON.stringify(write(metadata)),
    decode(body, fileVersion) {
      const reader = read[fileVersion];
      if (!reader) throw new CorruptDataError(`no reader for metadata version ${fileVersion}`);
      return reader(JSON.parse(body.toString('utf8')));
    },
  };
}

/** Data kept as raw bytes. */
export const bytesData: DataCodec<Buffer> = {
  encode: (data) => data,
  decode: (bytes) => bytes,
};

/** Data kept as UTF-8 text. */
export const textData: DataCodec<string> = {
  encode: (data) => data,
  decode: (bytes) => bytes.toString('utf8'),
};

/** Data kept as JSON text. */
export function jsonData<D>(): DataCodec<D> {
  return {
    encode: (data) => JSON.stringify(data),
    decode: (bytes) => JSON.parse(bytes.toString('utf8')) as D,
  };
}
