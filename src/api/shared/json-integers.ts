/**
 * Integers beyond what Zaqar accepts, found in a JSON text before it is taken: JSON.parse rounds
 * them silently, so both transports look at the text itself (HTTP bodies and WebSocket frames).
 */

/** An integer beyond 64 bits needs at least 19 digits; only a text with such a run needs the walk. */
const LONG_DIGITS = /\d{19}/;
const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * True when a (valid) JSON text holds an integer literal outside ±(2^63 − 1), the range Zaqar
 * accepts. Walks the text once, skipping strings, and looks only at numbers without fraction or
 * exponent, as Python's json module reads only those as integers.
 */
export function hasOverflowingInteger(text: string): boolean {
  if (!LONG_DIGITS.test(text)) return false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, honouring backslash escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) i++;
        else break;
      }
      const literal = text.slice(start, i);
      if (!/[.eE]/.test(literal) && literal.length >= 19) {
        const value = BigInt(literal);
        if (value > INT64_MAX || value < -INT64_MAX) return true;
      }
    } else {
      i++;
    }
  }
  return false;
}
