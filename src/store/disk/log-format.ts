/**
 * The framing of the disk log's records (as LevelDB's log_format.h). Each record is
 *
 *   magic u32 "PHR1" | payload length u32 | CRC-32 of the payload u32 | payload
 *
 * so a torn or damaged record is detected, never trusted, and the next intact one can be found
 * again by its magic. The payload starts with its type (u8) and its log sequence number (f64),
 * both counted in PREFIX_BYTES. The record types follow; record-codec.ts writes and reads them.
 */

export const RECORD_MAGIC = 0x50485231;
export const HEADER_BYTES = 12;
export const TYPE_POST = 1;
export const TYPE_EFFECT = 2;
export const TYPE_RELOCATE = 3;
/**
 * Posts and relocations as written now: each body is preceded by its own CRC-32, so a body read
 * back alone (bodies are read lazily, long after the record's CRC was checked at open) is checked
 * too. Types 1 and 3 (bodies without a CRC) are still read.
 */
export const TYPE_POST_CRC = 4;
export const TYPE_RELOCATE_CRC = 5;
/**
 * A seal, the first record of a segment: how long the segment before it is. That segment got no
 * byte after the seal was written and was wholly durable before the new one got any (see
 * Journal.flush), so a shorter file is damage — acknowledged records were cut — not a torn write.
 */
export const TYPE_SEAL = 6;
/**
 * A post with an idempotency key: TYPE_POST_CRC with the key, its fingerprint and when it is
 * forgotten after the message count, so the key is as durable as the messages and never
 * outlives or predates them, whatever instant a crash picks.
 */
export const TYPE_POST_KEY = 7;
/** Bytes of the CRC-32 before each body in a post or relocation. */
export const BODY_CRC_BYTES = 4;
/** Bytes every payload starts with: its type and log sequence number. */
export const PREFIX_BYTES = 9;

/** A record longer than this is taken for damage, never read (no record comes near it). */
export const MAX_RECORD_BYTES = 1 << 30;
