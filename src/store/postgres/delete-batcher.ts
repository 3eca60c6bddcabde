import { CallLanes, latestTime } from './call-lanes.js';
import { fromUuid } from './rows.js';
import type { StatementRunner } from './statement-runner.js';

/** One bulk delete waiting in the delete lane; claims null: whatever holds the messages. */
interface BulkDeleteCall {
  ids: string[];
  claims: string[] | null;
  now: number;
}

/** One deleteMessage waiting in its lane; claim: the claim id when one was given and can exist. */
export interface DeleteOneCall {
  id: string;
  withClaim: boolean;
  claim: string | null;
  now: number;
}

/** What a deleteMessage found: nothing (gone already), or whether it was claimed and whether it went. */
export type DeleteOneOutcome = { claimed: boolean; deleted: boolean } | null;

/** Most messages one combined delete names. */
const LANE_MESSAGES = 1000;
/** Combined deletes of one queue in flight at once: while one runs, the next is formed and sent. */
const LANE_IN_FLIGHT = 2;

/**
 * Deletes made to one queue together go as one statement, all at the latest of their callers'
 * times: bulk deletes in one lane, single deletes in another (a consumer over HTTP deletes what
 * it claimed one message at a time, all at once).
 */
export class DeleteBatcher {
  private readonly bulkLanes: CallLanes<BulkDeleteCall, string[]>;
  private readonly oneLanes: CallLanes<DeleteOneCall, DeleteOneOutcome>;

  constructor(private readonly db: StatementRunner) {
    this.bulkLanes = new CallLanes(
      (project, queue, calls) => this.sendBulkDeletes(project, queue, calls),
      [{ weight: (call) => call.ids.length * (call.claims?.length ?? 1), max: LANE_MESSAGES }],
      LANE_IN_FLIGHT,
    );
    this.oneLanes = new CallLanes(
      (project, queue, calls) => this.sendDeleteOnes(project, queue, calls),
      [{ weight: () => 1, max: LANE_MESSAGES }],
      LANE_IN_FLIGHT,
    );
  }

  /** Deletes the messages named (held by one of the claims, when claims are named); answers the ids that went. */
  bulkDelete(project: string, queue: string, ids: string[], claims: string[] | null, now: number): Promise<string[]> {
    return this.bulkLanes.submit(project, queue, { ids, claims, now });
  }

  deleteOne(project: string, queue: string, call: DeleteOneCall): Promise<DeleteOneOutcome> {
    return this.oneLanes.submit(project, queue, call);
  }

  /** Resolves once no delete is in flight or waiting. */
  async whenIdle(): Promise<void> {
    await Promise.all([this.bulkLanes.whenIdle(), this.oneLanes.whenIdle()]);
  }

  /**
   * Those that name claim ids (a consumer deleting what it claimed) go as one call of
   * delete_claimed_ids over (id, claim) pairs; those that name none delete by id.
   */
  private async sendBulkDeletes(project: string, queue: string, calls: BulkDeleteCall[]): Promise<string[][]> {
    const now = latestTime(calls);
    const ids: string[] = [];
    const claims: string[] = [];
    const free: string[] = [];
    for (const call of calls) {
      if (call.claims === null) {
        free.push(...call.ids);
        continue;
      }
      for (const id of call.ids) {
        for (const claim of call.claims) {
          ids.push(id);
          claims.push(claim);
        }
      }
    }
    const [held, loose] = await Promise.all([
      ids.length > 0
        ? this.db.run<{ id: string; claim_id: string }>('deleteClaimed', [project, queue, ids, claims, now])
        : null,
      free.length > 0 ? this.db.run<{ id: string }>('bulkDeleteMessages', [project, queue, free, null, now]) : null,
    ]);
    // Each deleted message is told to one call: with claim ids, the first that named it with the
    // claim that held it; without, the first that named it (two calls cannot both delete it).
    const byClaim = new Map<string, string>();
    for (const row of held?.rows ?? []) byClaim.set(fromUuid(row.id), fromUuid(row.claim_id));
    const unclaimed = new Set((loose?.rows ?? []).map((row) => fromUuid(row.id)));
    return calls.map((call) => {
      const deleted: string[] = [];
      for (const id of call.ids) {
        if (call.claims === null) {
          if (unclaimed.delete(id)) deleted.push(id);
          continue;
        }
        const claim = byClaim.get(id);
        if (claim !== undefined && call.claims.includes(claim)) {
          byClaim.delete(id);
          deleted.push(id);
        }
      }
      return deleted;
    });
  }

  /** One statement that reports, for each single delete, what it found and did. */
  private async sendDeleteOnes(project: string, queue: string, calls: DeleteOneCall[]): Promise<DeleteOneOutcome[]> {
    const now = latestTime(calls);
    const rows = (
      await this.db.run<{ n: number; claimed: boolean; deleted: boolean }>('deleteMessagesOneByOne', [
        project,
        queue,
        calls.map((c) => c.id),
        calls.map((c) => c.withClaim),
        calls.map((c) => c.claim),
        now,
      ])
    ).rows;
    const outcomes: DeleteOneOutcome[] = calls.map(() => null);
    for (const row of rows) outcomes[row.n - 1] = { claimed: row.claimed, deleted: row.deleted };
    return outcomes;
  }
}
