import {
  type Clock,
  checkProject,
  InvalidArgumentError,
  ignoreMissing,
  type Limits,
  type Logger,
  type QueueInfo,
  ResourceConflictError,
  StorageUnavailableError,
  silentLogger,
  systemClock,
  TtlCache,
} from '../core/index.js';
import {
  type ClaimController,
  type DataDriver,
  type ListQueuesOptions,
  type MessageController,
  type QueueController,
  type QueuePage,
  queueMatches,
  type StoreObserver,
  type SubscriptionController,
} from '../store/contract/index.js';
import { ManagementStore, type PoolRecord, type Route } from './management-store.js';
import { PoolDrivers } from './pool-drivers.js';
import { openPoolDriver } from './pool-uri.js';
import { type Placement, type RouteBook, RoutedDriver } from './routed-driver.js';
import { unavailableDriver } from './unavailable-driver.js';
import { weightedChoice } from './weighted-choice.js';

/** The name of the embedded store when it serves as a pool (the default pool out of the box). */
export const EMBEDDED_POOL = 'default';

export interface CatalogOptions {
  /** Where pools, flavors, the catalogue and moves are kept. */
  management: DataDriver;
  /**
   * The embedded store (disk or memory) of this server, serving as the pool `default`: queues of
   * no flavor go there when no registered pool takes them. Leave it out when several servers share
   * the catalogue — a folder on one machine cannot be a pool of all of them.
   */
  embedded?: DataDriver | null;
  /** A registered pool that takes every new queue of no flavor (instead of a weighted choice). */
  defaultPool?: string | null;
  /** The limits pool stores are opened with (poolStoreLimits). */
  limits: Limits;
  clock?: Clock;
  logger?: Logger;
  /** How long a server trusts a catalogue entry or the pool table before reading it again (default 2 s). */
  cacheSeconds?: number;
  /**
   * How long a storage call may take from routing to landing, at most (default 5 s). A move waits
   * cache time plus this after changing a route before it relies on every server following it.
   */
  settleSeconds?: number;
  /** Accept only pools every server can reach (Redis, PostgreSQL): true when the catalogue is shared. */
  sharedOnly?: boolean;
  /** A number in [0, 1) for the weighted choice (tests pass their own). */
  random?: () => number;
  /** Opens a pool's store (default: openPoolDriver with `limits`). */
  openDriver?: (uri: string) => Promise<DataDriver>;
  /** The observer of each pool's store, by pool name (the server's metrics); none: unwatched. */
  observerFor?: (pool: string) => StoreObserver;
}

const ROUTE_CACHE_MAX = 100_000;
/** The pool table is one entry of its cache. */
const POOL_TABLE = 'pools';

/**
 * The pool catalog — Zaqar's pooling Catalog (zaqar/storage/pooling.py) over Posthorn's storage
 * contract. It maps (project, queue) to a pool, keeps one driver per pool, and is the service's
 * DriverResolver when pooling is on: every storage call of the service goes through `routed`, a
 * DataDriver that looks up the queue's pool for each call (see routed-driver.ts).
 *
 * - `register` places a new queue: a queue of a flavor (its `_flavor` metadata) goes to a pool of
 *   that flavor chosen at random by weight; a queue of no flavor goes to `defaultPool`, else to a
 *   flavor-less pool by weight, else to the embedded store. Weight 0 takes no new queues. Two
 *   servers registering the same queue at once agree: the catalogue insert is atomic and the loser
 *   reads the winner's entry.
 * - `deregister` forgets a queue; the routed driver deregisters BEFORE deleting the data, so a crash
 *   in between leaves orphaned data (harmless) rather than an entry pointing at nothing.
 * - `lookup` answers the pool driver of a queue (the seed's get_*_controller build on it).
 * - Entries are cached for `cacheSeconds`; pool records too. A move (queue-mover.ts) relies on
 *   this bound: it waits cache time plus settle time after each route change.
 */
export class Catalog implements RouteBook {
  readonly store: ManagementStore;
  readonly routed: RoutedDriver;
  readonly limits: Limits;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cacheMs: number;
  readonly settleMs: number;
  readonly sharedOnly: boolean;
  readonly embedded: DataDriver | null;
  readonly defaultPool: string | null;
  private readonly management: DataDriver;
  private readonly random: () => number;
  private readonly poolDrivers: PoolDrivers;
  /** Null (no entry) is kept only until the load that read it has answered: a queue is new until registered. */
  private readonly routes: TtlCache<Route | null>;
  private readonly poolTable: TtlCache<Map<string, PoolRecord>>;
  /** When the pool table was last read (a name it lacks is looked up again at most every 100 ms). */
  private poolTableReadAt = Number.NEGATIVE_INFINITY;
  private closing: Promise<void> | null = null;

  constructor(options: CatalogOptions) {
    this.management = options.management;
    this.store = new ManagementStore(options.management);
    this.embedded = options.embedded ?? null;
    this.defaultPool = options.defaultPool ?? null;
    this.limits = options.limits;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.cacheMs = Math.round((options.cacheSeconds ?? 2) * 1000);
    this.settleMs = Math.round((options.settleSeconds ?? 5) * 1000);
    this.sharedOnly = options.sharedOnly === true;
    this.random = options.random ?? Math.random;
    this.routes = new TtlCache({ ttlMs: this.cacheMs, maxEntries: ROUTE_CACHE_MAX, clock: this.clock });
    this.poolTable = new TtlCache({ ttlMs: this.cacheMs, maxEntries: 1, clock: this.clock });
    const observerFor = options.observerFor;
    const open =
      options.openDriver ??
      ((uri: string, pool: string) =>
        openPoolDriver(uri, {
          limits: this.limits,
          clock: this.clock,
          logger: this.logger,
          ...(observerFor ? { observer: observerFor(pool) } : {}),
        }));
    this.poolDrivers = new PoolDrivers(open, this.clock);
    this.routed = new RoutedDriver(this, this.limits);
  }

  // --- the catalogue (Zaqar's register / deregister / lookup) --------------------------------

  /**
   * Places a queue in a pool unless it has one, and answers its route. `flavor` is the queue's
   * `_flavor`; a flavor that does not exist is an InvalidArgumentError (field `_flavor`).
   */
  async register(project: string, queue: string, flavor?: string | null): Promise<Route> {
    const existing = await this.route(project, queue, true);
    if (existing !== null) return existing;
    const pool = (await this.adoptable(project, queue)) ? EMBEDDED_POOL : await this.choosePool(flavor ?? null);
    const route: Route = { pool };
    if (await this.store.insertRoute(project, queue, route)) {
      this.remember(project, queue, route);
      return route;
    }
    // Another server registered it first: its choice stands.
    const winner = await this.route(project, queue, true);
    if (winner === null) throw new StorageUnavailableError(`queue ${queue} was deleted while it was registered`);
    return winner;
  }

  /** Puts a queue in a given pool when it has no entry yet (a dead-letter queue joins its queue's pool). */
  async registerIn(project: string, queue: string, pool: string): Promise<Route> {
    const route: Route = { pool };
    if (await this.store.insertRoute(project, queue, route)) {
      this.remember(project, queue, route);
      return route;
    }
    return (await this.route(project, queue, true)) ?? route;
  }

  /** Forgets where a queue lives. Call it before deleting the queue's data. */
  async deregister(project: string, queue: string): Promise<void> {
    await this.store.deleteRoute(project, queue);
    this.forget(project, queue);
  }

  /**
   * The driver of the pool holding the queue (while it moves, the pool it moves from), or for a
   * queue not in the catalogue the embedded store when there is one, else null.
   */
  async lookup(project: string, queue: string): Promise<DataDriver | null> {
    const route = await this.route(project, queue);
    if (route === null) return this.embedded;
    return this.driver(route.pool);
  }

  async getQueueController(project: string, queue: string): Promise<QueueController | null> {
    return (await this.lookup(project, queue))?.queues ?? null;
  }

  async getMessageController(project: string, queue: string): Promise<MessageController | null> {
    return (await this.lookup(project, queue))?.messages ?? null;
  }

  async getClaimController(project: string, queue: string): Promise<ClaimController | null> {
    return (await this.lookup(project, queue))?.claims ?? null;
  }

  async getSubscriptionController(project: string, queue: string): Promise<SubscriptionController | null> {
    return (await this.lookup(project, queue))?.subscriptions ?? null;
  }

  /** Where flavor-less queues go when nothing else is said: the named default pool, else the embedded store. */
  async getDefaultPool(): Promise<DataDriver | null> {
    if (this.defaultPool !== null) return this.driver(this.defaultPool);
    return this.embedded;
  }

  /**
   * The route of a queue, from the cache when it is fresh (or `fresh` says to read it). Null when
   * the catalogue has no entry. Concurrent reads of one entry share one lookup; a fresh read
   * shares none begun before it, which may have read the entry before a change.
   */
  async route(project: string, queue: string, fresh = false): Promise<Route | null> {
    const key = routeKey(project, queue);
    if (fresh) this.routes.delete(key);
    const route = await this.routes.get(key, () => this.store.getRoute(project, queue));
    if (route === null && this.routes.peek(key) === null) this.routes.delete(key);
    return route;
  }

  /** Where a queue's calls go now; null when it is in no pool. */
  async placement(project: string, queue: string, fresh = false): Promise<Placement | null> {
    let route = await this.route(project, queue, fresh);
    if (route === null) {
      if (!(await this.adoptable(project, queue))) return null;
      route = await this.registerIn(project, queue, EMBEDDED_POOL);
    }
    return this.placementOf(route);
  }

  /** Where a queue's calls go, registering it first when it is new. */
  async placeOrRegister(project: string, queue: string, flavor: string | null): Promise<Placement> {
    const route = (await this.route(project, queue)) ?? (await this.register(project, queue, flavor));
    return this.placementOf(route);
  }

  async placementOf(route: Route): Promise<Placement> {
    if (route.to === undefined) return { route, source: await this.driver(route.pool), target: null };
    const [source, target] = await Promise.all([this.driver(route.pool), this.driver(route.to)]);
    return { route, source, target };
  }

  /** Updates this server's cache at once (the other servers follow within the cache time). */
  remember(project: string, queue: string, route: Route): void {
    this.routes.set(routeKey(project, queue), route);
  }

  forget(project: string, queue: string): void {
    this.routes.delete(routeKey(project, queue));
  }

  // --- pools and their drivers ---------------------------------------------------------------

  /** The driver of a pool by name (Zaqar's get_driver): StorageUnavailableError when it cannot be had. */
  async driver(pool: string): Promise<DataDriver> {
    if (pool === EMBEDDED_POOL && this.embedded !== null) return this.embedded;
    const record = await this.pool(pool);
    if (record === null) {
      throw new StorageUnavailableError(`pool ${JSON.stringify(pool)} is not registered (was it deleted?)`);
    }
    return this.poolDrivers.peek(pool, record.uri) ?? this.poolDrivers.get(pool, record.uri);
  }

  /** A registered pool's record, from the pool table (read again when stale or when the name is new). */
  async pool(name: string): Promise<PoolRecord | null> {
    const table = await this.pools();
    const record = table.get(name);
    if (record !== undefined) return record;
    // A pool registered through another server moments ago: look once more, not more than every 100 ms.
    if (this.clock.now() - this.poolTableReadAt < 100) return null;
    return (await this.pools(true)).get(name) ?? null;
  }

  /** Every registered pool by name (cached for the cache time). */
  async pools(fresh = false): Promise<Map<string, PoolRecord>> {
    if (fresh) this.poolTable.delete(POOL_TABLE);
    return this.poolTable.get(POOL_TABLE, async () => {
      const records = await this.store.allPools();
      this.poolTableReadAt = this.clock.now();
      return new Map(records.map((r) => [r.name, r]));
    });
  }

  /** Drops the cached pool table and a pool's driver (the admin API changed the pool). */
  poolChanged(name: string, uriChanged: boolean): void {
    this.poolTable.delete(POOL_TABLE);
    if (uriChanged) this.poolDrivers.drop(name);
  }

  /** Opens a store for a pool being registered, to check it answers and read its capabilities. */
  openForCheck(name: string, uri: string): Promise<DataDriver> {
    return this.poolDrivers.get(name, uri);
  }

  /** Forgets a driver opened by openForCheck for a pool that was not registered after all. */
  dropDriver(name: string): void {
    this.poolDrivers.drop(name);
  }

  private async choosePool(flavor: string | null): Promise<string> {
    const pools = [...(await this.pools()).values()];
    if (flavor !== null) {
      if ((await this.store.getFlavor(flavor)) === null) {
        throw new InvalidArgumentError('_flavor', `there is no flavor named ${JSON.stringify(flavor)}`);
      }
      let chosen = weightedChoice(
        pools.filter((p) => p.flavor === flavor),
        this.random,
      );
      if (chosen === null) {
        // The flavor is new to this server's cached pool table (made through another server
        // moments ago): read the table once more before refusing.
        const fresh = [...(await this.pools(true)).values()];
        chosen = weightedChoice(
          fresh.filter((p) => p.flavor === flavor),
          this.random,
        );
      }
      if (chosen === null) {
        // Retrying cannot help until an operator changes a weight: a conflict, not "try again".
        throw new ResourceConflictError(
          'flavor',
          flavor,
          `no pool of flavor ${JSON.stringify(flavor)} takes new queues: every one has weight 0`,
        );
      }
      return chosen.name;
    }
    if (this.defaultPool !== null) {
      if (!pools.some((p) => p.name === this.defaultPool)) {
        throw new StorageUnavailableError(`the default pool ${JSON.stringify(this.defaultPool)} is not registered`);
      }
      return this.defaultPool;
    }
    const chosen = weightedChoice(
      pools.filter((p) => p.flavor === null),
      this.random,
    );
    if (chosen !== null) return chosen.name;
    if (this.embedded !== null) return EMBEDDED_POOL;
    throw new StorageUnavailableError(
      'no pool takes new queues: register a pool without a flavor and with a weight above 0, or set [pooling] default_pool',
    );
  }

  /**
   * True when the embedded store holds the queue though the catalogue does not: a queue made
   * before pooling was turned on. It is adopted into the catalogue on first use, so turning pooling
   * on loses nothing.
   */
  private async adoptable(project: string, queue: string): Promise<boolean> {
    return this.embedded !== null && (await this.embedded.queues.exists(project, queue));
  }

  // --- the DriverResolver face ----------------------------------------------------------------

  /** Every call for any queue goes through the routed driver, which asks the catalogue per call. */
  forQueue(_project: string, _queue: string): DataDriver {
    return this.routed;
  }

  /**
   * A page of a project's queues. Names come from the catalogue (one page read); metadata, when
   * asked for or filtered on, from each queue's pool.
   */
  async listQueues(project: string, options: ListQueuesOptions): Promise<QueuePage> {
    // The catalogue answers without asking a pool, so it checks the project as a pool would.
    checkProject(project, this.limits);
    const limit = options.limit ?? this.limits.defaultPageSize;
    const filter = options.filter !== undefined && Object.keys(options.filter).length > 0 ? options.filter : null;
    const name = options.name === undefined || options.name === '' ? undefined : options.name;
    if (options.detailed !== true && filter === null) {
      const page = await this.store.listRoutes(project, {
        ...(options.marker !== undefined ? { marker: options.marker } : {}),
        limit,
        ...(name !== undefined ? { name } : {}),
        withCount: options.withCount === true,
      });
      return { ...page, queues: page.queues.map((q) => ({ name: q.name })) };
    }
    const queues: QueueInfo[] = [];
    let marker: string | null = options.marker ?? null;
    for (;;) {
      const page = await this.store.listRoutes(project, {
        ...(marker !== null ? { marker } : {}),
        limit: limit - queues.length,
        ...(name !== undefined ? { name } : {}),
      });
      if (page.queues.length === 0) break;
      marker = page.marker;
      for (const found of await this.withMetadata(project, page.queues)) {
        if (filter !== null && !queueMatches(found.name, found.metadata ?? {}, null, filter)) continue;
        queues.push(options.detailed === true ? found : { name: found.name });
      }
      // Without a filter one page of names is the page; with one, read on until it is full.
      if (filter === null || queues.length >= limit) break;
    }
    const result: QueuePage = { queues, marker };
    if (options.withCount === true) result.count = await this.count(project, name, filter);
    return result;
  }

  /** Every pool's driver by name, for health reports; a pool that cannot be opened reports unreachable. */
  async drivers(): Promise<ReadonlyMap<string, DataDriver>> {
    const all = new Map<string, DataDriver>();
    if (this.embedded !== null) all.set(EMBEDDED_POOL, this.embedded);
    for (const record of (await this.pools()).values()) {
      try {
        all.set(record.name, await this.poolDrivers.get(record.name, record.uri));
      } catch (error) {
        all.set(record.name, unavailableDriver(record.name, (error as Error).message, this.limits));
      }
    }
    return all;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Closes every pool's driver, the embedded store and the management store. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.poolDrivers.closeAll();
      const rest = new Set<DataDriver>([this.management]);
      if (this.embedded !== null) rest.add(this.embedded);
      for (const driver of rest) await driver.close();
    })();
    return this.closing;
  }

  private async withMetadata(project: string, names: QueueInfo[]): Promise<QueueInfo[]> {
    const found = await Promise.all(
      names.map(async ({ name }) => {
        // In the catalogue but not (yet) in its pool: registered by a request still on its way.
        const metadata = await ignoreMissing(this.routed.queues.getMetadata(project, name), null);
        return metadata === null ? null : { name, metadata };
      }),
    );
    return found.filter((q): q is Required<QueueInfo> => q !== null);
  }

  private async count(project: string, name: string | undefined, filter: Record<string, unknown> | null) {
    if (filter === null) {
      const page = await this.store.listRoutes(project, {
        limit: 1,
        ...(name !== undefined ? { name } : {}),
        withCount: true,
      });
      return page.count ?? 0;
    }
    let count = 0;
    let marker: string | undefined;
    const limit = Math.min(this.limits.maxQueuesPerPage, 100);
    for (;;) {
      const page = await this.store.listRoutes(project, {
        ...(marker !== undefined ? { marker } : {}),
        limit,
        ...(name !== undefined ? { name } : {}),
      });
      for (const found of await this.withMetadata(project, page.queues)) {
        if (queueMatches(found.name, found.metadata ?? {}, null, filter)) count++;
      }
      if (page.queues.length < limit || page.marker === null) return count;
      marker = page.marker;
    }
  }
}

function routeKey(project: string, queue: string): string {
  return `${project.length}:${project}${queue}`;
}
