import { type Clock, CorruptDataError, type SpooledEnvelope } from '../core/index.js';
import { type DataFile, type EntryDecision, NewerMetadataError, type SpoolLog } from '../multispool/index.js';
import { type AttemptDecision, type AttemptReport, decide, startAttempt } from './attempt-policy.js';
import { callDelivery, readReport } from './delivery-call.js';
import { type MessageMeta, queueOf, type SpoolQueue } from './message-metadata.js';
import type { SpoolFolder } from './spool-folder.js';
import { quarantineMeta } from './transitions.js';
import type { BounceHook, DeliveryFunction, SpoolEvent } from './types.js';

/** What an attempt leaves: the metadata saved (null when the message left the spool) and its events. */
export interface AttemptOutcome {
  after: MessageMeta | null;
  events: SpoolEvent[];
}

export interface DeliveryAttemptsOptions<H> {
  folder: SpoolFolder;
  deliver: DeliveryFunction<H>;
  bounce: BounceHook<H> | undefined;
  clock: Clock;
  deliveryTimeoutMs: number;
  log: SpoolLog;
  /** Events said while the attempt runs (its start); those of its end are in the outcome. */
  emit: (event: SpoolEvent) => void;
}

/**
 * One delivery attempt of a message, with the message checked out for all of it so no other
 * process acts on it meanwhile: the delivery function is called, the attempt policy decides,
 * and the bounce hook is told when the message runs out of chances. Metadata that does not
 * decode sends the message to quarantine.
 */
export class DeliveryAttempts<H> {
  constructor(private readonly o: DeliveryAttemptsOptions<H>) {}

  /**
   * Delivers the active message `id`; 'not-found' when it is not in the active queue (another
   * process moved or took it). `freezeRequested` is asked before and after the delivery, as an
   * operator may ask for a freeze while it runs.
   */
  async run(id: string, freezeRequested: () => string | null): Promise<AttemptOutcome | 'not-found'> {
    const { multispool } = this.o.folder;
    try {
      const done = await multispool.withEntryOrNotFound<AttemptOutcome>(multispool.entry('active', id), (meta, data) =>
        this.attempt(meta, data, freezeRequested),
      );
      return done === 'not-found' ? done : done.ok;
    } catch (error) {
      if (!(error instanceof CorruptDataError) || error instanceof NewerMetadataError) throw error;
      const rebuilt = await this.o.folder.quarantineCorrupt('active', id, error);
      if (!rebuilt) return { after: null, events: [] };
      const reason = rebuilt.quarantineReason ?? '';
      return { after: rebuilt, events: [{ type: 'quarantined', id, at: this.o.clock.now(), reason }] };
    }
  }

  private async attempt(
    meta: MessageMeta,
    dataFile: DataFile<SpooledEnvelope>,
    freezeRequested: () => string | null,
  ): Promise<[EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome]> {
    const { clock, log } = this.o;
    const now = clock.now();
    const start = startAttempt(meta, now, freezeRequested());
    if (start.kind === 'leave') return saveAttempt(meta);
    if (start.kind === 'freeze') {
      return saveAttempt(start.meta, [{ type: 'frozen', id: meta.id, at: now, reason: start.reason }]);
    }
    const { pending, attempt } = start;
    if (pending.length === 0) return this.carryOut(meta, decide(meta, null, now, freezeRequested()), null, now);

    let envelope: SpooledEnvelope;
    try {
      envelope = await dataFile.read();
    } catch (error) {
      const reason = `data file unreadable: ${(error as Error).message}`;
      log('error', 'a spooled message was quarantined', { spool: this.o.folder.dir, id: meta.id, reason });
      return saveAttempt(quarantineMeta(meta, reason), [{ type: 'quarantined', id: meta.id, at: now, reason }]);
    }
    this.o.emit({ type: 'delivering', id: meta.id, at: now, attempt, recipients: pending });
    const result = await callDelivery(
      this.o.deliver,
      {
        id: meta.id,
        parentId: meta.parentId,
        attempt,
        envelope: { ...envelope, recipients: pending },
        nextHop: meta.nextHop as H | null,
      },
      clock,
      this.o.deliveryTimeoutMs,
    );
    let report: AttemptReport = { failure: 'error' in result ? result.error : '' };
    if ('report' in result) {
      const outcomes = readReport(result.report, pending);
      if (outcomes === null) {
        log('error', 'the delivery function returned something that is not a report', {
          spool: this.o.folder.dir,
          id: meta.id,
        });
        report = { failure: 'the delivery function returned an invalid report' };
      } else report = { outcomes };
    }
    const finished = clock.now();
    return this.carryOut(meta, decide(meta, report, finished, freezeRequested()), envelope, finished);
  }

  private async carryOut(
    meta: MessageMeta,
    decision: AttemptDecision,
    envelope: SpooledEnvelope | null,
    now: number,
  ): Promise<[EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome]> {
    const { id } = meta;
    switch (decision.kind) {
      case 'delivered':
        return [
          'remove',
          { after: null, events: [{ type: 'delivered', id, at: now, recipients: decision.recipients }] },
        ];
      case 'freeze':
        return saveAttempt(decision.meta, [{ type: 'frozen', id, at: now, reason: decision.reason }]);
      case 'retry': {
        const { until, reason, delivered, failed } = decision;
        return saveAttempt(decision.meta, [{ type: 'delayed', id, at: now, until, reason, delivered, failed }]);
      }
      case 'give-up':
        return this.giveUp(decision, envelope, now);
    }
  }

  /** Bounces through the hook when there is one; frozen when there is none or it fails, so nothing is lost. */
  private async giveUp(
    decision: Extract<AttemptDecision, { kind: 'give-up' }>,
    envelope: SpooledEnvelope | null,
    now: number,
  ): Promise<[EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome]> {
    const { meta, failed, delivered } = decision;
    const { id } = meta;
    let reason = decision.reason;
    const { bounce, folder } = this.o;
    if (bounce) {
      try {
        const full = envelope ?? (await folder.multispool.entry('active', id).dataFile.read());
        await bounce({
          id,
          parentId: meta.parentId,
          envelope: full,
          failed,
          delivered,
          nextHop: meta.nextHop as H | null,
        });
        return ['remove', { after: null, events: [{ type: 'bounced', id, at: now, failed }] }];
      } catch (error) {
        reason = `bounce failed: ${(error as Error)?.message ?? String(error)}`;
        this.o.log('error', 'the bounce hook failed; the message is frozen', { spool: folder.dir, id, error: reason });
      }
    }
    return saveAttempt({ ...meta, frozenReason: reason }, [{ type: 'frozen', id, at: now, reason }]);
  }
}

/** An attempt that leaves the message spooled: its new metadata saved in the queue its status names. */
function saveAttempt(
  meta: MessageMeta,
  events: SpoolEvent[] = [],
): [EntryDecision<MessageMeta, SpoolQueue>, AttemptOutcome] {
  return [{ save: [meta, queueOf(meta.status)] }, { after: meta, events }];
}
