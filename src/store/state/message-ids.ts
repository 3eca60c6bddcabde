/**
 * Message ids of the columnar stores: 32 hex characters — the message's sequence number (12),
 * the store's tag (8) and a check mixed from the sequence and the store's salt (12). The id
 * leads straight to the message's row (no index by id is kept in memory), ids of different
 * stores differ, and an id made up by hand is recognised as unknown.
 *
 * Every post formats its ids and every delete parses them, so both avoid regular expressions
 * and intermediate strings.
 */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** The value of a lowercase hex digit, or -1. */
function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Parses `length` hex digits of `text` from `at`; -1 when one is not a hex digit. */
function parseHex(text: string, at: number, length: number): number {
  let value = 0;
  for (let k = at; k < at + length; k++) {
    const digit = hexValue(text.charCodeAt(k));
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

function hex24(value: number): string {
  return (HEX[(value >>> 16) & 0xff] as string) + HEX[(value >>> 8) & 0xff] + HEX[value & 0xff];
}

export class MessageIdCodec {
  private readonly tagHex: string;

  constructor(
    readonly tag: number,
    readonly salt: number,
  ) {
    this.tagHex = (tag >>> 0).toString(16).padStart(8, '0');
  }

  format(seq: number): string {
    const hi = Math.floor(seq / 2 ** 24);
    const lo = seq % 2 ** 24;
    const a = this.mixA(seq);
    return hex24(hi) + hex24(lo) + this.tagHex + hex24(a >>> 8) + hex24(this.mixB(seq, a) >>> 8);
  }

  /** The sequence number of an id of this store, or -1. */
  parse(id: string): number {
    if (id.length !== 32 || !id.startsWith(this.tagHex, 12)) return -1;
    const hi = parseHex(id, 0, 6);
    const lo = parseHex(id, 6, 6);
    if (hi < 0 || lo < 0) return -1;
    const seq = hi * 2 ** 24 + lo;
    const a = this.mixA(seq);
    return parseHex(id, 20, 6) === a >>> 8 && parseHex(id, 26, 6) === this.mixB(seq, a) >>> 8 ? seq : -1;
  }

  // The check is the top 24 bits of two mixes: `a` of the sequence and the salt, then `b` of `a`
  // (computed once for both halves).
  private mixA(seq: number): number {
    return mix32((seq >>> 0) ^ this.salt, Math.floor(seq / 2 ** 32) >>> 0);
  }

  private mixB(seq: number, a: number): number {
    return mix32(a ^ (Math.floor(seq / 2 ** 32) >>> 0), this.salt ^ 0x9e3779b9);
  }
}

function mix32(x: number, y: number): number {
  let h = Math.imul(x ^ (y + 0x7f4a7c15), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
