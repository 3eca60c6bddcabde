import type { StoreObserver } from '../contract/index.js';
import { CallLanes, latestTime } from './call-lanes.js';
import { fromUuid, type MessageRow, withoutTakeReport } from './rows.js';
import type { StatementRunner } from './statement-runner.js';

/** One claim waiting in the claim lane. */
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

/** Most messages one combined claim asks for. */
const LANE_MESSAGES = 1000;
/**
 * Combined claims of one queue in flight at once: while one runs, the next is formed and sent,
 * so the server is not idle while answers travel back and consumers call again. SKIP LOCKED
 * keeps two claims from taking the same message.
 */
const LANE_IN_FLIGHT = 2;

/**
 * Claims made to one queue together: one call of take_claims_v4, which hands the messages out in
 * the order the claims were asked for. They are all made at the latest of their callers' times.
 */
export class ClaimBatcher {
  private readonly lanes: CallLanes<ClaimCall, ClaimTaken>;

  constructor(
    private readonly db: StatementRunner,
    /** Told how many messages the combined claims dead-lettered. */
    private readonly observer: StoreObserver | null,
  ) {
    this.lanes = new CallLanes(
      (project, queue, calls) => this.sendClaims(project, queue, calls),
      [{ weight: (call) => call.limit, max: LANE_MESSAGES }],
      LANE_IN_FLIGHT,
    );
  }

  claim(project: string, queue: string, call: ClaimCall): Promise<ClaimTaken> {
    return this.lanes.submit(project, queue, call);
  }

  /** Resolves once no claim is in flight or waiting. */
  whenIdle(): Promise<void> {
    return this.lanes.whenIdle();
  }

  private async sendClaims(project: string, queue: string, calls: ClaimCall[]): Promise<ClaimTaken[]> {
    const now = latestTime(calls);
    const taken = withoutTakeReport(
      (
        await this.db.run<MessageRow>(
          'takeClaims',
          [
            project,
            queue,
            now,
            calls.map((c) => c.id),
            calls.map((c) => c.limit),
            calls.map((c) => c.ttl),
            calls.map((c) => c.grace),
          ],
          { project, queue },
        )
      ).rows,
    );
    if (taken.deadLettered > 0) this.observer?.deadLettered?.(project, queue, taken.deadLettered);
    const rows = taken.rows;
    if (calls.length === 1) return [{ rows, now }];
    const byClaim = new Map<string, MessageRow[]>();
    for (const row of rows) {
      const claim = fromUuid(row.claim_id as string);
      const list = byClaim.get(claim);
      if (list) list.push(row);
      else byClaim.set(claim, [row]);
    }
    return calls.map((c) => ({ rows: byClaim.get(c.id) ?? [], now }));
  }
}
