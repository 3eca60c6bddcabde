/**
 * Picks one item at random with a chance proportional to its weight (Zaqar's select.weighted):
 * items of weight 0 (or less) are never picked, and null means no item has a positive weight.
 * `random` returns a number in [0, 1), as Math.random does; tests pass their own.
 */
export function weightedChoice<T extends { weight: number }>(
  items: readonly T[],
  random: () => number = Math.random,
): T | null {
  let total = 0;
  for (const item of items) if (item.weight > 0) total += item.weight;
  if (total === 0) return null;
  // An integer in [0, total), as Zaqar draws it, so that the spans of the weights never overlap.
  const selector = Math.min(total - 1, Math.floor(random() * total));
  let upper = 0;
  for (const item of items) {
    if (item.weight <= 0) continue;
    upper += item.weight;
    if (selector < upper) return item;
  }
  return null;
}
