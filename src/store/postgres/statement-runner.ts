import type pg from 'pg';
import { type ProjectId, QueueNotFoundError } from '../../core/index.js';
import type { StoreObserver } from '../contract/index.js';
import type { Pipelines } from './pipelines.js';
import { buildStatements, type Statements } from './statements.js';
import { QUEUE_MISSING_SQLSTATE, sqlState, toStorageError } from './storage-errors.js';

/** The queue a statement is about, so that its "queue missing" error can name it. */
export type Scope = { project: ProjectId; queue: string };

/**
 * How the engine's named statements reach the database: on a pooled connection, or for posts
 * over the queue's pipelined connection when there are any. Every failure leaves as a typed
 * error, a connection a failure broke is never used again, and the statements in flight are
 * counted so that closing waits for them.
 */
export class StatementRunner {
  private readonly sql: Statements;
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly pool: pg.Pool,
    quotedSchema: string,
    private readonly pipelines: Pipelines | null,
    /** Told how long each statement's round trip took (the server's metrics). */
    private readonly observer: StoreObserver | null = null,
  ) {
    this.sql = buildStatements(quotedSchema);
  }

  /**
   * Runs one named statement on a pooled connection. A connection that failed is destroyed
   * rather than returned to the pool; one that merely answered with an SQL error is kept.
   */
  async run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: keyof Statements,
    values: unknown[],
    scope?: Scope,
  ): Promise<pg.QueryResult<R>> {
    this.active++;
    const roundTrip = this.observer?.roundTrip;
    const started = roundTrip ? performance.now() : 0;
    try {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw toStorageError(error, statement);
      }
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      try {
        return await client.query<R>({ name: `ph_${statement}`, text: this.sql[statement], values });
      } catch (error) {
        if (brokenConnection(error)) broken ??= error as Error;
        if (scope && sqlState(error) === QUEUE_MISSING_SQLSTATE)
          throw new QueueNotFoundError(scope.project, scope.queue);
        throw toStorageError(error, statement);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    } finally {
      roundTrip?.((performance.now() - started) / 1000);
      this.settled();
    }
  }

  /**
   * Runs a post: over the queue's pipelined connection when there are any (statements of one
   * queue reach the server in the order they were made), else on a pooled connection.
   */
  async runPost(key: string, values: unknown[]): Promise<void> {
    if (!this.pipelines) {
      await this.run('postMessages', values);
      return;
    }
    this.active++;
    const roundTrip = this.observer?.roundTrip;
    const started = roundTrip ? performance.now() : 0;
    try {
      await this.pipelines.query(key, { name: 'ph_postMessages', text: this.sql.postMessages, values });
    } catch (error) {
      if (brokenConnection(error)) this.pipelines.discard(key);
      throw toStorageError(error, 'postMessages');
    } finally {
      roundTrip?.((performance.now() - started) / 1000);
      this.settled();
    }
  }

  /** Waits for every statement in flight, then hangs up. */
  async close(): Promise<void> {
    while (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.all([this.pool.end(), this.pipelines?.close()]);
  }

  private settled(): void {
    this.active--;
    if (this.active === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

/** Whether a failed query leaves its connection unusable (so it must not go back to the pool). */
function brokenConnection(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) return true;
  if (state === '57014') return false; // statement_timeout: the session is fine
  return ['08', '57', '58', 'XX'].includes(state.slice(0, 2));
}
