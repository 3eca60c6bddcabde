import { randomBytes } from 'node:crypto';
import { type Capability, type Clock, ClosedError, decodeValue, type GcReport } from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import { ColumnarEngine } from '../state/columnar-engine.js';
import type { Effect } from '../state/effects.js';
import { MessageIdCodec } from '../state/message-ids.js';
import { type Row, StoreState } from '../state/store-state.js';

const MEMORY_CAPABILITIES: ReadonlySet<Capability> = new Set<Capability>(['FIFO', 'CLAIMS', 'AOD', 'HIGH_THROUGHPUT']);

/**
 * Everything in this process's memory. The columnar state does the queue semantics; bodies are
 * kept encoded (MessagePack), so every read decodes a fresh copy and callers can never change
 * what is stored. Each operation runs without awaiting between plan and apply, so on Node's one
 * thread every operation is atomic: two claims never interleave.
 */
export class MemoryEngine extends ColumnarEngine {
  readonly kind = 'memory';
  readonly capabilities = MEMORY_CAPABILITIES;
  protected readonly state: StoreState;
  private readonly bodies = new Map<number, Buffer>();
  private nextRef = 1;
  private closed = false;

  constructor(clock: Clock) {
    super(clock);
    const salt = randomBytes(8);
    this.state = new StoreState(new MessageIdCodec(salt.readUInt32BE(0), salt.readUInt32BE(4)), (ref) =>
      this.bodies.delete(ref),
    );
  }

  /** Tells `observer` of dead-letter moves and expired messages from now on. */
  observe(observer: StoreObserver): void {
    this.state.observer = observer;
  }

  protected commit(effect: Effect, bodies?: Buffer[]): Promise<void> {
    if (effect.type === 'post' && bodies) {
      effect.messages.forEach((m, k) => {
        m.ref = this.nextRef++;
        this.bodies.set(m.ref, bodies[k] as Buffer);
      });
    }
    this.state.apply(effect);
    return Promise.resolve();
  }

  protected loadBodies(rows: Row[]): unknown[] {
    return rows.map(({ queue, i }) => {
      const bytes = this.bodies.get(queue.cols.bodyRef[i] as number);
      return bytes === undefined ? null : decodeValue(bytes);
    });
  }

  protected settled(): Promise<void> {
    return Promise.resolve();
  }

  protected async ready(): Promise<void> {
    if (this.closed) throw new ClosedError('memory store');
  }

  async isAlive(): Promise<boolean> {
    return !this.closed;
  }

  async gc(): Promise<GcReport> {
    return this.state.gc(this.clock.now());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.state.projects.clear();
    this.bodies.clear();
  }
}
