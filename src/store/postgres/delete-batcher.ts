import { CallLanes, latestTime } from './call-lanes.js';
import { fromUuid } from './rows.js';
import type { StatementRunner } from './statement-runner.js';

/** One bulk delete by ids alone waiting in the delete lane: whatever holds the messages. */
interface BulkDeleteCall {
  ids: string[];
  now: number;
}

/** A bulk delete with claim ids (made in the consume lane, claim-batcher.ts). */
export interface ClaimedDelete {
  ids: string[];
  claims: string[];
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
 * times: bulk deletes by ids alone in one lane, single deletes in another (a consumer over HTTP
 * deletes what it claimed one message at a time, all at once). Bulk deletes with claim ids go with
 * the claims (claim-batcher.ts), through claimedPairs and tellDeleted.
 */
export class DeleteBatcher {
  private readonly bulkLanes: CallLanes<BulkDeleteCall, string[]>;
  private readonly oneLanes: CallLanes<DeleteOneCall, DeleteOneOutcome>;

  constructor(private readonly db: StatementRunner) {
    this.bulkLanes = new CallLanes(
      (project, queue, calls) => this.sendBulkDeletes(project, queue, calls),
      [{ weight: (call) => call.ids.length, max: LANE_MESSAGES }],
      LANE_IN_FLIGHT,
    );
    this.oneLanes = new CallLanes(
      (project, queue, calls) => this.sendDeleteOnes(project, queue, calls),
      [{ weight: () => 1, max: LANE_MESSAGES }],
      LANE_IN_FLIGHT,
    );
  }

  /** Deletes the messages named, whatever holds them; answers the ids that went. */
  bulkDelete(project: string, queue: string, ids: string[], now: number): Promise<string[]> {
    return this.bulkLanes.submit(project, queue, { ids, now });
  }

  deleteOne(project: string, queue: string, call: DeleteOneCall): Promise<DeleteOneOutcome> {
    return this.oneLanes.submit(project, queue, call);
  }

  /** Resolves once no delete is in flight or waiting. */
  async whenIdle(): Promise<void> {
    await Promise.all([this.bulkLanes.whenIdle(), this.oneLanes.whenIdle()]);
  }

  /** One delete by id of every message named; each deleted message is told to the first call that named it. */
  private async sendBulkDeletes(project: string, queue: string, calls: BulkDeleteCall[]): Promise<string[][]> {
    const free = calls.length === 1 ? (calls[0] as BulkDeleteCall).ids : calls.flatMap((call) => call.ids);
    const rows = (
      await this.db.run<{ id: string }>('bulkDeleteMessages', [project, queue, free, null, latestTime(calls)])
    ).rows;
    const unclaimed = new Set(rows.map((row) => fromUuid(row.id)));
    return calls.map((call) => call.ids.filter((id) => unclaimed.delete(id)));
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

/**
 * The (id, claim) pairs of bulk deletes with claim ids made together, as delete_claimed_ids takes
 * them: every id of a call with every claim id of that call.
 */
export function claimedPairs(calls: readonly ClaimedDelete[]): [string[], string[]] {
  const ids: string[] = [];
  const claims: string[] = [];
  for (const call of calls) {
    for (const id of call.ids) {
      for (const claim of call.claims) {
        ids.push(id);
        claims.push(claim);
      }
    }
  }
  return [ids, claims];
}

/**
 * Which ids each call deleted, from the (id, claim) pairs that went: each deleted message is told
 * to one call, the first that named it with the claim that held it.
 */
export function tellDeleted(
  calls: readonly ClaimedDelete[],
  rows: readonly { id: string; claim_id: string }[],
): string[][] {
  const byClaim = new Map<string, string>();
  for (const row of rows) byClaim.set(fromUuid(row.id), fromUuid(row.claim_id));
  return calls.map((call) => {
    const deleted: string[] = [];
    for (const id of call.ids) {
      const claim = byClaim.get(id);
      if (claim !== undefined && call.claims.includes(claim)) {
        byClaim.delete(id);
        deleted.push(id);
      }
    }
    return deleted;
  });
}
