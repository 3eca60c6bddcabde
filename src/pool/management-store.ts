import { createHash } from 'node:crypto';
import {
  ALL_CAPABILITIES,
  type Capability,
  CorruptDataError,
  ignoreMissing,
  isPlainObject,
  type QueueMetadata,
} from '../core/index.js';
import type { DataDriver, QueuePage } from '../store/contract/index.js';

/**
 * The management store: pools, flavors, the catalogue of (project, queue) -> pool, moves and
 * leases, kept in an ordinary DataDriver. Every record is a queue in a reserved project whose
 * name starts with a control character (no client can name such a project: see
 * service/namespaces.ts), and the record itself is that queue's metadata. So the management store
 * works on every backend — the embedded disk store, Redis, PostgreSQL, memory — with no code of
 * its own per backend, and inherits what the contract promises:
 *
 * - `queues.create` is an atomic insert-if-absent: the one primitive a catalogue needs, since two
 *   servers registering the same new queue must agree on one pool (the loser reads the winner's);
 * - `queues.list` pages records in name order with opaque markers, filters by name, counts;
 * - claims are atomic leases with a time limit: the move lock (lease.ts) is a claim on a token;
 * - the driver's durability is the catalogue's durability (use PostgreSQL, or Redis with
 *   appendfsync always, when several servers share it).
 *
 * A record is replaced whole (`setMetadata`); there is no compare-and-set. That is enough because
 * each record has one writer at a time: routes are created once by whoever wins the insert and
 * changed afterwards only by the holder of the queue's move lease; pool and flavor records are
 * changed by operators through the admin API.
 */

const ROUTES = '\u001fcatalog\u001f';
const POOLS = '\u001fpools\u001f';
const FLAVORS = '\u001fflavors\u001f';
const MOVES = '\u001fmoves\u001f';
export const LEASES = '\u001fleases\u001f';

export interface PoolRecord {
  name: string;
  uri: string;
  /** Share of new queues this pool takes among its peers; 0 takes none. */
  weight: number;
  flavor: string | null;
  /** Zaqar's free-form pool options, kept and shown, not interpreted. */
  options: Record<string, unknown>;
  /** What the pool's store declared when it was registered (or its URI last changed). */
  capabilities: Capability[];
}

export interface FlavorRecord {
  name: string;
  /** The capabilities every pool of the flavor shares (those of its first pool when created). */
  capabilities: Capability[];
}

export type MovePhase = 'copying' | 'draining';

/**
 * Where a queue lives. `to` and `phase` are set only while the queue moves (queue-mover.ts):
 * `copying` — posts still go to `pool`, the mover copies its messages to `to`; `draining` — posts
 * go to `to`, the mover empties `pool`. Reads and claims look in both while either is set.
 */
export interface Route {
  pool: string;
  to?: string;
  phase?: MovePhase;
  /** The id of the move that set `to`. */
  move?: string;
}

export type MoveStatus = 'running' | 'done' | 'failed' | 'cancelled';

/** A batch being copied: enough to finish or undo it after a crash (see queue-mover.ts). */
export interface CopyIntent {
  /** The mover's claim on the batch's originals in the source pool. */
  claimId: string;
  /** The Client-ID the batch's copies are posted with, so they can be found in the target. */
  tag: string;
  /** The originals' ids in the source pool. */
  ids: string[];
  /** 'claimed' batches are held by the claim; 'delayed' ones are not claimable yet. */
  kind: 'claimed' | 'delayed';
}

export interface MoveRecord {
  id: string;
  project: string;
  queue: string;
  from: string;
  to: string;
  status: MoveStatus;
  /** 'starting', 'copying', 'draining', 'switched' (the route is stable on `to`), 'finished'. */
  step: string;
  /** Messages copied to the target so far. */
  copied: number;
  /** Messages in the source the last time it was counted: free, claimed by consumers, delayed. */
  source: { free: number; claimed: number; delayed: number };
  /** Claims of consumers released because they outlasted the claim wait (their messages were copied). */
  releasedClaims: number;
  /** Copies withdrawn or duplicated when a crashed batch was recovered (see queue-mover.ts). */
  recovered: number;
  startedAt: number;
  updatedAt: number;
  /** When posts were switched to the target; the source is drained at least G after it. */
  drainingAt: number | null;
  /** When the route was switched to the target; the source is deleted at least G after it. */
  switchedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  intent: CopyIntent | null;
}

/** A move record's key: the (project, queue) pair as a name the store accepts (40 hex characters). */
export function moveKey(project: string, queue: string): string {
  return createHash('sha1').update(project).update('\u0000').update(queue).digest('hex');
}

export interface RouteListing {
  marker?: string;
  limit?: number;
  name?: string;
  withCount?: boolean;
}

export class ManagementStore {
  constructor(readonly driver: DataDriver) {}

  // --- routes (the catalogue) ---------------------------------------------------------------

  async getRoute(project: string, queue: string): Promise<Route | null> {
    const record = await this.read(ROUTES + project, queue);
    return record === null ? null : decodeRoute(record, queue);
  }

  /** Inserts the route when the queue has none; false (and no change) when it has one. */
  insertRoute(project: string, queue: string, route: Route): Promise<boolean> {
    return this.driver.queues.create(ROUTES + project, queue, encodeRoute(route));
  }

  /** Replaces the route; false when the queue has none (it was deleted). */
  async setRoute(project: string, queue: string, route: Route): Promise<boolean> {
    return this.write(ROUTES + project, queue, encodeRoute(route));
  }

  deleteRoute(project: string, queue: string): Promise<void> {
    return this.driver.queues.delete(ROUTES + project, queue);
  }

  /** A page of a project's queue names, from the catalogue. */
  listRoutes(project: string, options: RouteListing): Promise<QueuePage> {
    return this.driver.queues.list(ROUTES + project, {
      ...(options.marker !== undefined ? { marker: options.marker } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      withCount: options.withCount === true,
    });
  }

  // --- pools --------------------------------------------------------------------------------

  async getPool(name: string): Promise<PoolRecord | null> {
    const record = await this.read(POOLS, name);
    return record === null ? null : decodePool(name, record);
  }

  insertPool(pool: PoolRecord): Promise<boolean> {
    return this.driver.queues.create(POOLS, pool.name, encodePool(pool));
  }

  updatePool(pool: PoolRecord): Promise<boolean> {
    return this.write(POOLS, pool.name, encodePool(pool));
  }

  deletePool(name: string): Promise<void> {
    return this.driver.queues.delete(POOLS, name);
  }

  async listPools(marker: string | undefined, limit: number): Promise<{ pools: PoolRecord[]; marker: string | null }> {
    const page = await this.driver.queues.list(POOLS, {
      ...(marker !== undefined ? { marker } : {}),
      limit,
      detailed: true,
    });
    return { pools: page.queues.map((q) => decodePool(q.name, q.metadata ?? {})), marker: page.marker };
  }

  /** Every pool, in name order. */
  async allPools(): Promise<PoolRecord[]> {
    return this.all((marker, limit) => this.listPools(marker, limit).then((p) => ({ items: p.pools, ...p })));
  }

  // --- flavors ------------------------------------------------------------------------------

  async getFlavor(name: string): Promise<FlavorRecord | null> {
    const record = await this.read(FLAVORS, name);
    return record === null ? null : decodeFlavor(name, record);
  }

  insertFlavor(flavor: FlavorRecord): Promise<boolean> {
    return this.driver.queues.create(FLAVORS, flavor.name, { capabilities: flavor.capabilities });
  }

  updateFlavor(flavor: FlavorRecord): Promise<boolean> {
    return this.write(FLAVORS, flavor.name, { capabilities: flavor.capabilities });
  }

  deleteFlavor(name: string): Promise<void> {
    return this.driver.queues.delete(FLAVORS, name);
  }

  async listFlavors(
    marker: string | undefined,
    limit: number,
  ): Promise<{ flavors: FlavorRecord[]; marker: string | null }> {
    const page = await this.driver.queues.list(FLAVORS, {
      ...(marker !== undefined ? { marker } : {}),
      limit,
      detailed: true,
    });
    return { flavors: page.queues.map((q) => decodeFlavor(q.name, q.metadata ?? {})), marker: page.marker };
  }

  // --- moves --------------------------------------------------------------------------------

  async getMove(project: string, queue: string): Promise<MoveRecord | null> {
    const record = await this.read(MOVES, moveKey(project, queue));
    return record === null ? null : (record as unknown as MoveRecord);
  }

  /** Writes a move record, making it when missing. */
  async putMove(move: MoveRecord): Promise<void> {
    const key = moveKey(move.project, move.queue);
    const metadata = move as unknown as QueueMetadata;
    if (await this.write(MOVES, key, metadata)) return;
    if (!(await this.driver.queues.create(MOVES, key, metadata))) await this.write(MOVES, key, metadata);
  }

  /** Every move record (running and finished). */
  async allMoves(): Promise<MoveRecord[]> {
    return this.all(async (marker, limit) => {
      const page = await this.driver.queues.list(MOVES, {
        ...(marker !== undefined ? { marker } : {}),
        limit,
        detailed: true,
      });
      return { items: page.queues.map((q) => q.metadata as unknown as MoveRecord), marker: page.marker };
    });
  }

  // --- helpers ------------------------------------------------------------------------------

  private read(project: string, name: string): Promise<QueueMetadata | null> {
    return ignoreMissing(this.driver.queues.getMetadata(project, name), null);
  }

  /** Replaces a record; false when it does not exist. */
  private write(project: string, name: string, metadata: QueueMetadata): Promise<boolean> {
    return ignoreMissing(
      this.driver.queues.setMetadata(project, name, metadata).then(() => true),
      false,
    );
  }

  private async all<T>(
    page: (marker: string | undefined, limit: number) => Promise<{ items: T[]; marker: string | null }>,
  ): Promise<T[]> {
    const items: T[] = [];
    const limit = Math.min(this.driver.limits.maxQueuesPerPage, 100);
    let marker: string | undefined;
    for (;;) {
      const next = await page(marker, limit);
      items.push(...next.items);
      if (next.items.length < limit || next.marker === null) return items;
      marker = next.marker;
    }
  }
}

const CAPABILITY_SET = new Set<string>(ALL_CAPABILITIES);

function capabilities(value: unknown): Capability[] {
  return Array.isArray(value) ? (value.filter((c) => CAPABILITY_SET.has(c)) as Capability[]) : [];
}

function encodeRoute(route: Route): QueueMetadata {
  return route.to === undefined
    ? { pool: route.pool }
    : { pool: route.pool, to: route.to, phase: route.phase, move: route.move };
}

function decodeRoute(record: QueueMetadata, queue: string): Route {
  if (typeof record.pool !== 'string') throw new CorruptDataError(`the catalogue entry of ${queue} names no pool`);
  if (typeof record.to === 'string' && (record.phase === 'copying' || record.phase === 'draining')) {
    return {
      pool: record.pool,
      to: record.to,
      phase: record.phase,
      ...(typeof record.move === 'string' ? { move: record.move } : {}),
    };
  }
  return { pool: record.pool };
}

function encodePool(pool: PoolRecord): QueueMetadata {
  return {
    uri: pool.uri,
    weight: pool.weight,
    flavor: pool.flavor,
    options: pool.options,
    capabilities: pool.capabilities,
  };
}

function decodePool(name: string, record: QueueMetadata): PoolRecord {
  return {
    name,
    uri: typeof record.uri === 'string' ? record.uri : '',
    weight: typeof record.weight === 'number' ? record.weight : 0,
    flavor: typeof record.flavor === 'string' && record.flavor !== '' ? record.flavor : null,
    options: isPlainObject(record.options) ? record.options : {},
    capabilities: capabilities(record.capabilities),
  };
}

function decodeFlavor(name: string, record: QueueMetadata): FlavorRecord {
  return { name, capabilities: capabilities(record.capabilities) };
}
