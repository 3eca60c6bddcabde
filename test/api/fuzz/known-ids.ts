/**
 * Ids the fuzzed requests refer to. A generated request cannot know the ids the server will hand
 * out, so it says `@message:3` (the fourth message id seen so far, modulo how many there are) and
 * the runner resolves that before sending; with none seen yet it stands for an id of the right
 * shape that names nothing. Indexes, not ids, are what fast-check generates and shrinks, so a
 * shrunk case replays the same way although the server's ids are random.
 */

export type IdKind = 'message' | 'claim' | 'subscription';

/** Well-formed ids that no store hands out (ObjectId-like and UUID-shaped). */
const NAMES_NOTHING: Record<IdKind, string> = {
  message: '5c0ffee05c0ffee05c0ffee0',
  claim: '5c0ffee05c0ffee05c0ffee1',
  subscription: '5c0ffee05c0ffee05c0ffee2',
};

const REF = /@(message|claim|subscription):(\d+)/g;

export class KnownIds {
  private readonly ids: Record<IdKind, string[]> = { message: [], claim: [], subscription: [] };

  /** Remembers the ids an answer names (its body and its Location header). */
  harvest(text: string): void {
    for (const m of text.matchAll(/\/messages\/([0-9A-Za-z_-]{6,})/g)) this.add('message', m[1]);
    for (const m of text.matchAll(/"message_ids":\[([^\]]*)\]/g)) {
      for (const id of m[1]?.matchAll(/"([^"]+)"/g) ?? []) this.add('message', id[1]);
    }
    for (const m of text.matchAll(/ids=([0-9A-Za-z_,-]+)/g)) {
      for (const id of m[1]?.split(',') ?? []) this.add('message', id);
    }
    for (const m of text.matchAll(/claim_id[=":]+([0-9A-Za-z_-]{6,})/g)) this.add('claim', m[1]);
    for (const m of text.matchAll(/\/claims\/([0-9A-Za-z_-]{6,})/g)) this.add('claim', m[1]);
    for (const m of text.matchAll(/"subscription_id":"([^"]+)"/g)) this.add('subscription', m[1]);
  }

  /** Every remembered id of a kind, for state snapshots (claims cannot be listed). */
  all(kind: IdKind): readonly string[] {
    return this.ids[kind];
  }

  /** Replaces every `@kind:n` in a text. */
  resolve(text: string): string {
    return text.replace(REF, (_all, kind: IdKind, n: string) => {
      const known = this.ids[kind];
      return known.length === 0 ? NAMES_NOTHING[kind] : (known[Number(n) % known.length] as string);
    });
  }

  /** Replaces every `@kind:n` in the strings of a JSON-like value. */
  resolveDeep(value: unknown): unknown {
    if (typeof value === 'string') return this.resolve(value);
    if (Array.isArray(value)) return value.map((v) => this.resolveDeep(v));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolveDeep(v)]));
    }
    return value;
  }

  private add(kind: IdKind, id: string | undefined): void {
    if (id === undefined || id === '' || this.ids[kind].includes(id)) return;
    this.ids[kind].push(id);
  }
}
