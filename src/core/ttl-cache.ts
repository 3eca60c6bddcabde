import type { Clock } from './clock.js';

export interface TtlCacheOptions {
  /** How long a loaded value is served before it is loaded again. */
  ttlMs: number;
  /**
   * At most this many entries are kept; when full, the cache starts over empty. Entries are
   * cheap to load again and a full cache is rare (it means that many keys in one ttl), so a
   * clear bounds memory without the bookkeeping of least-recently-used order.
   */
  maxEntries: number;
  clock: Clock;
}

interface Entry<V> {
  value: V;
  until: number;
}

/**
 * Values read from storage, reused for a while. Concurrent loads of one key share one read.
 * `delete` makes the next get read again, even while a load begun before it is in flight: that
 * load still answers its own callers but is not kept, so a change made through this process
 * is seen at once and a change made elsewhere within the ttl.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly loads = new Map<string, Promise<V>>();

  constructor(private readonly options: TtlCacheOptions) {}

  /** The fresh value of `key`, or undefined when there is none (nothing is loaded). */
  peek(key: string): V | undefined {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.until > this.options.clock.now() ? entry.value : undefined;
  }

  /** The fresh value of `key`, or what `load` reads (shared with any load of it in flight). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.until > this.options.clock.now()) return Promise.resolve(entry.value);
    const pending = this.loads.get(key);
    if (pending !== undefined) return pending;
    const loading = load().then(
      (value) => {
        if (this.loads.get(key) === loading) {
          this.loads.delete(key);
          this.set(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (this.loads.get(key) === loading) this.loads.delete(key);
        throw error;
      },
    );
    this.loads.set(key, loading);
    return loading;
  }

  /** Keeps `value` for `key` for the ttl from now. */
  set(key: string, value: V): void {
    if (this.entries.size >= this.options.maxEntries && !this.entries.has(key)) this.entries.clear();
    this.entries.set(key, { value, until: this.options.clock.now() + this.options.ttlMs });
  }

  /** Forgets `key`, and any load of it in flight. */
  delete(key: string): void {
    this.entries.delete(key);
    this.loads.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
    this.loads.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
