import type { SpoolEvent } from './types.js';

const MAX_BUFFERED = 10_000;

interface Subscriber {
  buffer: SpoolEvent[];
  dropped: number;
  wake: (() => void) | null;
  done: boolean;
}

/**
 * Fans events out to any number of async iterators (async_smtp's event stream). Each iterator
 * sees the events from its creation on. A subscriber that does not keep up loses its oldest
 * events past 10,000 and is told how many with an `overflow` event, so a forgotten iterator
 * cannot grow the process without bound.
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private ended = false;

  constructor(private readonly now: () => number) {}

  emit(event: SpoolEvent): void {
    for (const s of this.subscribers) {
      if (s.buffer.length >= MAX_BUFFERED) {
        s.buffer.shift();
        s.dropped++;
      }
      s.buffer.push(event);
      s.wake?.();
    }
  }

  /** Ends every iterator (after the events already buffered). */
  end(): void {
    this.ended = true;
    for (const s of this.subscribers) {
      s.done = true;
      s.wake?.();
    }
  }

  subscribe(): AsyncIterableIterator<SpoolEvent> {
    const s: Subscriber = { buffer: [], dropped: 0, wake: null, done: this.ended };
    if (!s.done) this.subscribers.add(s);
    const finish = (): IteratorResult<SpoolEvent> => {
      s.done = true;
      s.buffer = [];
      this.subscribers.delete(s);
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<SpoolEvent> = {
      next: async () => {
        for (;;) {
          if (s.dropped > 0) {
            const dropped = s.dropped;
            s.dropped = 0;
            return { value: { type: 'overflow', at: this.now(), dropped }, done: false };
          }
          const event = s.buffer.shift();
          if (event) return { value: event, done: false };
          if (s.done) return finish();
          await new Promise<void>((resolve) => {
            s.wake = resolve;
          });
          s.wake = null;
        }
      },
      return: async () => finish(),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
