/**
 * Message ids of the columnar stores: 32 hex characters — the message's sequence number (12),
 * the store's tag (8) and a check mixed from the sequence and the store's salt (12). The id
 * leads straight to the message's row (no index by id is kept in memory), ids of different
 * stores differ, and an id made up by hand is recognised as unknown.
 */
export class MessageIdCodec {
  private readonly tagHex: string;

  constructor(
    readonly tag: number,
    readonly salt: number,
  ) {
    this.tagHex = (tag >>> 0).toString(16).padStart(8, '0');
  }

  format(seq: number): string {
    return seq.toString(16).padStart(12, '0') + this.tagHex + this.check(seq);
  }

  /** The sequence number of an id of this store, or -1. */
  parse(id: string): number {
    if (id.length !== 32 || id.slice(12, 20) !== this.tagHex) return -1;
    const head = id.slice(0, 12);
    if (!/^[0-9a-f]{12}$/.test(head)) return -1;
    const seq = Number.parseInt(head, 16);
    return id.slice(20) === this.check(seq) ? seq : -1;
  }

  private check(seq: number): string {
    const lo = seq >>> 0;
    const hi = Math.floor(seq / 2 ** 32) >>> 0;
    const a = mix32(lo ^ this.salt, hi);
    const b = mix32(a ^ hi, this.salt ^ 0x9e3779b9);
    return ((a >>> 8) & 0xffffff).toString(16).padStart(6, '0') + ((b >>> 8) & 0xffffff).toString(16).padStart(6, '0');
  }
}

function mix32(x: number, y: number): number {
  let h = Math.imul(x ^ (y + 0x7f4a7c15), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
