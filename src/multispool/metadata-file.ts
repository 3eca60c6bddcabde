import { CorruptDataError } from '../core/index.js';

/**
 * A metadata file is one header line and the codec's bytes:
 *
 *     PHMS <version> <body length>\n<body>
 *
 * The version tells the codec which reader to use; the length tells a whole file from a cut one
 * (files are renamed into place only after fsync, so a cut file means outside damage).
 */

const MAGIC = 'PHMS';
const MAX_HEADER = 64;

export function encodeMetadataFile(version: number, body: Uint8Array | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  return Buffer.concat([Buffer.from(`${MAGIC} ${version} ${bytes.length}\n`, 'latin1'), bytes]);
}

export function decodeMetadataFile(bytes: Buffer, file: string): { version: number; body: Buffer } {
  const end = bytes.indexOf(10);
  if (end < 0 || end > MAX_HEADER) throw new CorruptDataError(`${file} has no metadata header`, { file });
  const header = /^PHMS ([1-9][0-9]{0,8}) ([0-9]{1,12})$/.exec(bytes.toString('latin1', 0, end));
  if (!header) throw new CorruptDataError(`${file} has a malformed metadata header`, { file });
  const length = Number(header[2]);
  const body = bytes.subarray(end + 1);
  if (body.length !== length) {
    throw new CorruptDataError(`${file} holds ${body.length} metadata bytes, its header says ${length}`, {
      file,
      start: end + 1,
      end: bytes.length,
    });
  }
  return { version: Number(header[1]), body };
}
