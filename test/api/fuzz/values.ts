/**
 * Value arbitraries both fuzzers share: JSON-ish values with the inputs that broke servers before
 * (numbers beyond float or 64-bit range, fractions where integers belong, deep nesting, lone
 * surrogates, long strings), fields that are valid most of the time and wrong some of the time,
 * and names of queues, ids and projects.
 */
import fc from 'fast-check';
import { QUEUE_NAMES } from './targets.js';

/**
 * A number literal JSON.stringify cannot write (-1e400 parses to -Infinity in JS but is refused by
 * Zaqar's parser): a string marked so that `toJsonText` writes it unquoted.
 */
const RAW = '~raw~';
export const raw = (literal: string) => `${RAW}${literal}`;

/**
 * Deep nesting is generated as a marker too, expanded only when sent: fast-check prints (and
 * shrinks) generated values recursively, and a value 3,000 levels deep overflows its stack.
 */
const DEEP = /"~deep~(\d+)~([ao])"/g;

/** JSON text of a generated value, with the raw literals written as literals and deep markers expanded. */
export function toJsonText(value: unknown): string {
  return (JSON.stringify(value) ?? 'null')
    .replace(/"~raw~([-+.0-9eE]+)"/g, '$1')
    .replace(DEEP, (_all, depth: string, kind: string) => {
      const n = Number(depth);
      return kind === 'a' ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    });
}

/** For values sent as they are (MessagePack): raw literals as the nearest JS number, deep markers built. */
export function withoutRaw(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith(RAW)) return Number(value.slice(RAW.length));
  const deep = typeof value === 'string' ? /^~deep~(\d+)~([ao])$/.exec(value) : null;
  if (deep) return nested(Number(deep[1]), deep[2] === 'a');
  if (Array.isArray(value)) return value.map(withoutRaw);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutRaw(v)]));
  }
  return value;
}

export const oddNumber = fc.constantFrom(
  raw('-1e400'),
  raw('1e400'),
  raw('9223372036854775808'),
  raw('-9223372036854775809'),
  raw('1e-400'),
  raw('-0'),
  1.5,
  -1,
  0,
  2 ** 53 + 1,
  1e21,
);

function nested(depth: number, array: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = array ? [value] : { a: value };
  return value;
}

/** Nesting around the 100-level limit of stored values and far beyond it. */
export const deep = fc
  .tuple(fc.constantFrom(20, 99, 100, 101, 127, 129, 200, 3000), fc.boolean())
  .map(([depth, array]) => `~deep~${depth}~${array ? 'a' : 'o'}`);

const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('\ud800', '\udfff x', '\u0000', '🦆'.repeat(3), 'x'.repeat(70_000), ''),
);

/** Any JSON-ish value, usually small and plain. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: oddNumber },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: oddString },
);

/** A field that is one of the valid values most of the time, and anything else otherwise. */
export function field<T>(...valid: T[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: oddNumber },
    { weight: 1, arbitrary: fc.constantFrom('60', null, true, [], {}, 'x') },
  );
}

/** Queue names: mostly the three the fuzzer keeps state in, sometimes names Zaqar refuses. */
export const queueName = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...QUEUE_NAMES) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('a'.repeat(65), 'bad name', 'ünï', 'x.y', 'a/b', '\u0000', '-', 'q'.repeat(64)),
  },
);

/** A reference to an id seen so far (see known-ids.ts), or an id that cannot be one. */
export function idRef(kind: 'message' | 'claim' | 'subscription'): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.nat(30).map((n) => `@${kind}:${n}`) },
    { weight: 1, arbitrary: fc.constantFrom('x', 'a'.repeat(300), ' ', '5c0ffee0', '-1', '🦆', '@') },
  );
}
