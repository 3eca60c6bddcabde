import type { Section, Spool } from '../../spool/index.js';
import { encodeBatch, recipientOf, type SpooledSubscription } from './batch.js';
import type { Payload } from './payloads.js';

/** A subscription to notify, with the retry intervals its policy gives. */
export interface BatchTarget {
  subscription: SpooledSubscription;
  intervals: readonly number[];
  /** Equal for targets with equal intervals: they can share a spool section. */
  scheduleKey: string;
}

/** Bounds of one spooled message. */
const MAX_RECIPIENTS = 2048;
const MAX_ITEMS = 512;
const MAX_BYTES = 4 * 1024 * 1024;
/** Spool writes at once: one can fill while the other syncs; more would only batch less. */
const MAX_IN_FLIGHT = 2;

interface Part {
  items: string[];
  payloadBytes: number;
  targets: readonly BatchTarget[];
  done: (error?: unknown) => void;
}

/**
 * Group commit for notifications. Each post hands its notifications here and waits until they are
 * durable; they are written to the spool by the next write that starts, together with everything
 * else that arrived meanwhile. Under load, one spool message (one set of files and fsyncs)
 * carries the notifications of many posts; when idle, a post's notifications are written at once.
 */
export class SpoolBatcher {
  private readonly waiting: Part[] = [];
  private inFlight = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly spool: Spool<null>,
    /** Encrypts a batch before it is spooled (see NotifierOptions.cipher); none: kept as JSON. */
    private readonly seal?: (bytes: Buffer) => Buffer,
  ) {}

  /** Spools every (payload, target) pair; resolves when all are on disk. */
  add(payloads: readonly Payload[], targets: readonly BatchTarget[]): Promise<void> {
    if (payloads.length === 0 || targets.length === 0) return Promise.resolve();
    const items = payloads.map((p) => JSON.stringify(p));
    const perPart = Math.max(1, Math.min(MAX_ITEMS, Math.floor(MAX_RECIPIENTS / targets.length)));
    const parts: Promise<void>[] = [];
    for (let start = 0; start < items.length; start += perPart) {
      const chunk = items.slice(start, start + perPart);
      parts.push(
        new Promise<void>((resolve, reject) => {
          this.waiting.push({
            items: chunk,
            payloadBytes: chunk.reduce((n, s) => n + s.length, 0),
            targets,
            done: (error) => (error === undefined ? resolve() : reject(error)),
          });
        }),
      );
    }
    this.pump();
    return parts.length === 1 ? (parts[0] as Promise<void>) : Promise.all(parts).then(() => undefined);
  }

  /** Resolves when nothing is waiting or being written. */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.waiting.length > 0) {
      const taken: Part[] = [];
      let recipients = 0;
      let items = 0;
      let bytes = 0;
      while (this.waiting.length > 0) {
        const next = this.waiting[0] as Part;
        const r = next.items.length * next.targets.length;
        if (
          taken.length > 0 &&
          (recipients + r > MAX_RECIPIENTS ||
            items + next.items.length > MAX_ITEMS ||
            bytes + next.payloadBytes > MAX_BYTES)
        ) {
          break;
        }
        taken.push(this.waiting.shift() as Part);
        recipients += r;
        items += next.items.length;
        bytes += next.payloadBytes;
      }
      this.inFlight++;
      this.write(taken).then(
        () => this.finish(taken),
        (error: unknown) => this.finish(taken, error ?? new Error('spool write failed')),
      );
    }
  }

  private finish(parts: Part[], error?: unknown): void {
    this.inFlight--;
    for (const part of parts) part.done(error);
    this.pump();
    if (this.inFlight === 0 && this.waiting.length === 0) for (const wake of this.idle.splice(0)) wake();
  }

  private async write(parts: Part[]): Promise<void> {
    const subscriptions = new Map<string, SpooledSubscription>();
    const sections = new Map<string, { recipients: string[]; retryIntervals: readonly number[] }>();
    const all: string[] = [];
    const itemJson: string[] = [];
    for (const part of parts) {
      for (const item of part.items) {
        const index = itemJson.push(item) - 1;
        for (const target of part.targets) {
          subscriptions.set(target.subscription.id, target.subscription);
          let section = sections.get(target.scheduleKey);
          if (!section) {
            section = { recipients: [], retryIntervals: target.intervals };
            sections.set(target.scheduleKey, section);
          }
          const recipient = recipientOf(target.subscription.id, index);
          section.recipients.push(recipient);
          all.push(recipient);
        }
      }
    }
    const body = encodeBatch([...subscriptions.values()], itemJson);
    const spoolSections: Section<null>[] = [...sections.values()].map((s) => ({
      recipients: s.recipients,
      retryIntervals: s.retryIntervals,
    }));
    const bytes = this.seal ? this.seal(Buffer.from(body, 'utf8')) : body;
    await this.spool.add({ sender: '', recipients: all, body: bytes }, spoolSections);
  }
}
