import { QueueNotFoundError } from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import { CallLanes, latestTime } from './call-lanes.js';
import { type ClaimedDelete, claimedPairs, tellDeleted } from './delete-batcher.js';
import { fromUuid, type MessageRow, withoutTakeReport } from './rows.js';
import type { StatementRunner } from './statement-runner.js';

/** One claim waiting in the consume lane. */
export interface ClaimCall {
  id: string;
  limit: number;
  ttl: number;
  grace: number;
  now: number;
}

/** What one claim got: its rows, and the time the combined claim was made at. */
export interface ClaimTaken {
  rows: MessageRow[];
  now: number;
}

type ConsumeCall = ({ kind: 'claim' } & ClaimCall) | ({ kind: 'delete' } & ClaimedDelete);
/** A call's answer; a claim to a queue that does not exist gets the error (its deletes do not). */
type ConsumeResult = ClaimTaken | string[] | QueueNotFoundError;

/** Most messages one combined claim asks for, and most (id, claim) pairs its deletes name. */
const LANE_MESSAGES = 1000;
/**
 * Combined statements of one queue in flight at once: while one runs, the next is formed and
 * sent, so the server is not idle while answers travel back and consumers call again. SKIP
 * LOCKED keeps two claims from taking the same message.
 */
const LANE_IN_FLIGHT = 2;

/** A delete_and_take row that tells a deleted (id, claim) pair rather than a claimed message. */
const DELETED_SEQ = 0;

/**
 * The consume lane: claims, and bulk deletes with claim ids, made to one queue together go as
 * one call of delete_and_take — one transaction, one commit, one round trip — the deletes first
 * (as delete_claimed_ids makes them), then the claims (as take_claims_v4 does: the messages
 * handed out in the order the claims were asked for). A consumer deletes what it finished and
 * claims more at about the same time, so the two mostly wait together. All are made at the
 * latest of their callers' times.
 */
export class ClaimBatcher {
  private readonly lanes: CallLanes<ConsumeCall, ConsumeResult>;

  constructor(
    private readonly db: StatementRunner,
    /** Told how many messages the combined claims dead-lettered. */
    private readonly observer: StoreObserver | null,
  ) {
    this.lanes = new CallLanes(
      (project, queue, calls) => this.send(project, queue, calls),
      [
        { weight: (call) => (call.kind === 'claim' ? call.limit : 0), max: LANE_MESSAGES },
        { weight: (call) => (call.kind === 'delete' ? call.ids.length * call.claims.length : 0), max: LANE_MESSAGES },
      ],
      LANE_IN_FLIGHT,
    );
  }

  async claim(project: string, queue: string, call: ClaimCall): Promise<ClaimTaken> {
    const result = await this.lanes.submit(project, queue, { kind: 'claim', ...call });
    if (result instanceof QueueNotFoundError) throw result;
    return result as ClaimTaken;
  }

  /** Deletes the messages named that one of the claims holds; answers the ids that went. */
  async deleteClaimed(project: string, queue: string, ids: string[], claims: string[], now: number): Promise<string[]> {
    return (await this.lanes.submit(project, queue, { kind: 'delete', ids, claims, now })) as string[];
  }

  /** Resolves once no call is in flight or waiting. */
  whenIdle(): Promise<void> {
    return this.lanes.whenIdle();
  }

  private async send(project: string, queue: string, calls: ConsumeCall[]): Promise<ConsumeResult[]> {
    const now = latestTime(calls);
    const claims: ClaimCall[] = [];
    const deletes: ClaimedDelete[] = [];
    for (const call of calls) {
      if (call.kind === 'claim') claims.push(call);
      else deletes.push(call);
    }
    const [ids, idClaims] = claimedPairs(deletes);
    let rows: MessageRow[];
    try {
      rows = (
        await this.db.run<MessageRow>(
          'deleteAndTake',
          [
            project,
            queue,
            now,
            ids,
            idClaims,
            claims.map((c) => c.id),
            claims.map((c) => c.limit),
            claims.map((c) => c.ttl),
            claims.map((c) => c.grace),
          ],
          { project, queue },
        )
      ).rows;
    } catch (error) {
      // Only the claims need the queue: the deletes made with them found nothing to delete.
      if (!(error instanceof QueueNotFoundError) || deletes.length === 0) throw error;
      return calls.map((call) => (call.kind === 'claim' ? error : []));
    }
    const deleted: { id: string; claim_id: string }[] = [];
    const taken: MessageRow[] = [];
    for (const row of rows) {
      if (row.seq === DELETED_SEQ) deleted.push(row as { id: string; claim_id: string });
      else taken.push(row);
    }
    const report = withoutTakeReport(taken);
    if (report.deadLettered > 0) this.observer?.deadLettered?.(project, queue, report.deadLettered);
    const told = tellDeleted(deletes, deleted);
    const byClaim = new Map<string, MessageRow[]>();
    for (const row of report.rows) {
      const claim = claims.length === 1 ? (claims[0] as ClaimCall).id : fromUuid(row.claim_id as string);
      const list = byClaim.get(claim);
      if (list) list.push(row);
      else byClaim.set(claim, [row]);
    }
    let d = 0;
    return calls.map((call) =>
      call.kind === 'claim' ? { rows: byClaim.get(call.id) ?? [], now } : (told[d++] as string[]),
    );
  }
}
