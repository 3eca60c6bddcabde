const rules = new Intl.PluralRules('en');

/** A count and its noun for people: `1 message`, `2 messages`, `0 entries` (give `many` when it is not noun + s). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${rules.select(n) === 'one' ? one : many}`;
}
