import {
  ALL_CAPABILITIES,
  type Capability,
  ClaimNotFoundError,
  ClosedError,
  checkQueueMetadata,
  type GcReport,
  InvalidArgumentError,
  ignoreMissing,
  type Limits,
  type Message,
  MessageNotFoundError,
  type MessageStamp,
  type QueueMetadata,
  QueueNotFoundError,
  type QueueStats,
  StorageUnavailableError,
  SubscriptionNotFoundError,
} from '../core/index.js';
import {
  type ClaimController,
  type DataDriver,
  deadLetterPolicy,
  type ListMessagesOptions,
  type ListQueuesOptions,
  type MessageController,
  type MessagePage,
  type QueueController,
  type QueuePage,
  type SubscriptionController,
} from '../store/contract/index.js';
import type { ManagementStore, Route } from './management-store.js';

/** Where a queue's operations go: its pool, and while it moves, the pool it moves to. */
export interface Placement {
  route: Route;
  source: DataDriver;
  /** Set while the queue moves (route.to): the pool it moves to. */
  target: DataDriver | null;
}

/**
 * What the routed driver asks of the catalog (catalog.ts implements it). Declared here, below the
 * catalog, so the catalog builds its routed driver without the two files importing each other.
 */
export interface RouteBook {
  readonly store: Pick<ManagementStore, 'getFlavor'>;
  route(project: string, queue: string): Promise<Route | null>;
  placement(project: string, queue: string, fresh?: boolean): Promise<Placement | null>;
  placementOf(route: Route): Promise<Placement>;
  placeOrRegister(project: string, queue: string, flavor: string | null): Promise<Placement>;
  registerIn(project: string, queue: string, pool: string): Promise<Route>;
  deregister(project: string, queue: string): Promise<void>;
  driver(pool: string): Promise<DataDriver>;
  drivers(): Promise<ReadonlyMap<string, DataDriver>>;
  listQueues(project: string, options: ListQueuesOptions): Promise<QueuePage>;
  close(): Promise<void>;
  /** True once close was called. */
  readonly closed: boolean;
}

/**
 * The DataDriver the service talks to when pooling is on — Zaqar's pooling DataDriver: each call
 * asks the catalog where its queue lives and goes to that pool's driver.
 *
 * A queue is registered when it is first created (`queues.create`, with its `_flavor`) or first
 * posted to. Deleting a queue deregisters it first, then deletes its data. A queue whose
 * `_dead_letter_queue` names a queue in another pool is refused: a store moves dead letters within
 * itself, so both must share a pool (a dead-letter queue not yet anywhere joins its queue's pool).
 *
 * While a queue moves (its route has `to`; see queue-mover.ts), both pools hold some of it and the
 * calls follow the move protocol:
 * - posts go to the source while copying, to the target while draining;
 * - claims and pops take from the target first (it holds the oldest messages: copies of the
 *   source's head), then from the source;
 * - calls naming a message or claim id try the source, then the target (ids never repeat across
 *   stores), and deletes go to both, each ignoring what it does not hold;
 * - metadata is read from the source and written to both; counts are summed; listings page
 *   through the target, then the source, with markers that say which;
 * - subscriptions are read from the source and cannot change until the move ends (they are
 *   copied when it switches; a change meanwhile answers 503, "try again").
 */
export class RoutedDriver implements DataDriver {
  readonly kind = 'pooled';
  readonly capabilities: ReadonlySet<Capability> = new Set(ALL_CAPABILITIES);
  readonly queues: QueueController;
  readonly messages: MessageController;
  readonly claims: ClaimController;
  readonly subscriptions: SubscriptionController;

  constructor(
    private readonly catalog: RouteBook,
    readonly limits: Limits,
  ) {
    const at = (project: string, queue: string) => catalog.placement(project, queue);
    const need = async (project: string, queue: string): Promise<Placement> => {
      const place = await catalog.placement(project, queue);
      if (place === null) throw new QueueNotFoundError(project, queue);
      return place;
    };

    this.queues = {
      create: async (project, queue, metadata = {}) => {
        const flavor = typeof metadata._flavor === 'string' && metadata._flavor !== '' ? metadata._flavor : null;
        if (flavor !== null) await this.checkFlavor(flavor);
        return this.registering(project, queue, flavor, async (place) => {
          await this.checkDeadLetter(project, queue, metadata, place);
          return place.source.queues.create(project, queue, metadata);
        });
      },
      exists: async (project, queue) => {
        const place = await at(project, queue);
        if (place === null) return false;
        if (await place.source.queues.exists(project, queue)) return true;
        return (await place.target?.queues.exists(project, queue)) === true;
      },
      getMetadata: async (project, queue) => {
        const place = await need(project, queue);
        return sourceThenTarget(place, (d) => d.queues.getMetadata(project, queue), isQueueMissing);
      },
      setMetadata: async (project, queue, metadata) => {
        const place = await need(project, queue);
        const flavor = metadata._flavor;
        if (typeof flavor === 'string' && flavor !== '') await this.checkFlavor(flavor);
        await this.checkDeadLetter(project, queue, metadata, place);
        if (place.target === null) return place.source.queues.setMetadata(project, queue, metadata);
        const done = await Promise.all(
          [place.source, place.target].map((d) => ignoreMissing(d.queues.setMetadata(project, queue, metadata), true)),
        );
        if (done.every((d) => d === true)) throw new QueueNotFoundError(project, queue);
      },
      delete: async (project, queue) => {
        // Read the route afresh: a cached one may name a pool the queue has just left.
        const place = await catalog.placement(project, queue, true);
        if (place === null) return;
        await catalog.deregister(project, queue);
        await place.source.queues.delete(project, queue);
        await place.target?.queues.delete(project, queue);
      },
      list: (project, options = {}) => catalog.listQueues(project, options),
      stats: async (project, queue) => {
        const place = await need(project, queue);
        if (place.target === null) return place.source.queues.stats(project, queue);
        const [a, b] = await Promise.all(
          [place.source, place.target].map((d) => ignoreMissing(d.queues.stats(project, queue), null)),
        );
        if (a === null && b === null) throw new QueueNotFoundError(project, queue);
        return sumStats(a ?? null, b ?? null);
      },
    };

    this.messages = {
      post: async (project, queue, messages, clientId, options) => {
        return this.registering(project, queue, null, (place) => {
          const driver = place.target !== null && place.route.phase === 'draining' ? place.target : place.source;
          return driver.messages.post(project, queue, messages, clientId, options);
        });
      },
      list: async (project, queue, options = {}) => {
        const place = await need(project, queue);
        if (place.target === null) {
          const marker = options.marker;
          // A marker of the target half of a moving listing is the pool's own marker once the move is done.
          const own = marker?.startsWith(TARGET_MARKER) ? { ...options, marker: marker.slice(2) } : options;
          return place.source.messages.list(project, queue, own);
        }
        return listMoving(place, project, queue, options, this.limits.defaultPageSize);
      },
      first: async (project, queue, end = 'oldest') => {
        const place = await need(project, queue);
        if (place.target === null) return place.source.messages.first(project, queue, end);
        const found = await Promise.all(
          [place.source, place.target].map((d) => ignoreMissing(d.messages.first(project, queue, end), null)),
        );
        const live = found.filter((m): m is Message => m !== null);
        if (live.length === 0) return null;
        return live.reduce((a, b) =>
          (end === 'oldest' ? b.createdAt < a.createdAt : b.createdAt > a.createdAt) ? b : a,
        );
      },
      get: async (project, queue, id) => {
        const place = await at(project, queue);
        if (place === null) throw new MessageNotFoundError(queue, id);
        return sourceThenTarget(place, (d) => d.messages.get(project, queue, id), isMessageMissing);
      },
      bulkGet: async (project, queue, ids) => {
        const place = await at(project, queue);
        if (place === null) return [];
        if (place.target === null) return place.source.messages.bulkGet(project, queue, ids);
        const halves = await Promise.all(
          [place.source, place.target].map((d) => ignoreMissing(d.messages.bulkGet(project, queue, ids), [])),
        );
        const byId = new Map(halves.flat().map((m) => [m.id, m]));
        // Each message once, in the order first asked, as a single store answers.
        return [...new Set(ids)].map((id) => byId.get(id)).filter((m): m is Message => m !== undefined);
      },
      delete: async (project, queue, id, options) => {
        const place = await at(project, queue);
        if (place === null) {
          if (options?.fenced === true) throw new MessageNotFoundError(queue, id);
          return;
        }
        if (place.target === null) return place.source.messages.delete(project, queue, id, options);
        if (options?.fenced === true) {
          // Mid-move the message is on one side: fenced, it is missing only when on neither.
          let found = false;
          for (const side of [place.source, place.target]) {
            try {
              await side.messages.delete(project, queue, id, options);
              found = true;
            } catch (error) {
              if (!(error instanceof MessageNotFoundError) && !(error instanceof QueueNotFoundError)) throw error;
            }
          }
          if (!found) throw new MessageNotFoundError(queue, id);
          return;
        }
        await ignoreMissing(place.source.messages.delete(project, queue, id, options), null);
        await ignoreMissing(place.target.messages.delete(project, queue, id, options), null);
      },
      bulkDelete: async (project, queue, ids, options) => {
        const place = await at(project, queue);
        if (place === null) return [];
        const source =
          (await ignoreMissing(place.source.messages.bulkDelete(project, queue, ids, options), null)) ?? [];
        if (place.target === null) return source;
        // During a move a message lives on one side or the other (a copy on both is one message):
        // report what either side deleted, in the order asked.
        const target =
          (await ignoreMissing(place.target.messages.bulkDelete(project, queue, ids, options), null)) ?? [];
        const gone = new Set([...source, ...target]);
        return [...new Set(ids)].filter((id) => gone.has(id));
      },
      pop: async (project, queue, limit) => {
        const place = await at(project, queue);
        if (place === null) return [];
        if (place.target === null) return place.source.messages.pop(project, queue, limit);
        const first = await ignoreMissing(place.target.messages.pop(project, queue, limit), []);
        if (first.length >= limit) return first;
        const rest = await ignoreMissing(place.source.messages.pop(project, queue, limit - first.length), []);
        return [...first, ...rest];
      },
    };

    this.claims = {
      create: async (project, queue, options) => {
        const place = await need(project, queue);
        if (place.target === null) return place.source.claims.create(project, queue, options);
        const fromTarget = await ignoreMissing(place.target.claims.create(project, queue, options), null);
        if (fromTarget !== null) return fromTarget;
        return ignoreMissing(place.source.claims.create(project, queue, options), null);
      },
      get: async (project, queue, claimId) => {
        const place = await need(project, queue);
        return sourceThenTarget(place, (d) => d.claims.get(project, queue, claimId), isClaimMissing);
      },
      update: async (project, queue, claimId, options) => {
        const place = await need(project, queue);
        return sourceThenTarget(place, (d) => d.claims.update(project, queue, claimId, options), isClaimMissing);
      },
      delete: async (project, queue, claimId) => {
        const place = await at(project, queue);
        if (place === null) return;
        await ignoreMissing(place.source.claims.delete(project, queue, claimId), null);
        if (place.target !== null) await ignoreMissing(place.target.claims.delete(project, queue, claimId), null);
      },
    };

    const frozen = (place: Placement, queue: string): void => {
      if (place.target !== null) {
        throw new StorageUnavailableError(
          `queue ${queue} is moving to pool ${place.route.to}: its subscriptions cannot change until the move ends`,
        );
      }
    };
    this.subscriptions = {
      create: async (project, queue, subscriber, options) => {
        const place = await need(project, queue);
        frozen(place, queue);
        return place.source.subscriptions.create(project, queue, subscriber, options);
      },
      list: async (project, queue, options) => {
        const place = await need(project, queue);
        return sourceThenTarget(place, (d) => d.subscriptions.list(project, queue, options), isQueueMissing);
      },
      get: async (project, queue, id) => {
        const place = await need(project, queue);
        return sourceThenTarget(place, (d) => d.subscriptions.get(project, queue, id), isSubscriptionMissing);
      },
      getBySubscriber: async (project, queue, subscriber) => {
        const place = await need(project, queue);
        return sourceThenTarget(
          place,
          (d) => d.subscriptions.getBySubscriber(project, queue, subscriber),
          isQueueMissing,
        );
      },
      exists: async (project, queue, id) => {
        const place = await at(project, queue);
        if (place === null) return false;
        return sourceThenTarget(place, (d) => d.subscriptions.exists(project, queue, id), isQueueMissing);
      },
      update: async (project, queue, id, changes) => {
        const place = await need(project, queue);
        frozen(place, queue);
        return place.source.subscriptions.update(project, queue, id, changes);
      },
      delete: async (project, queue, id) => {
        const place = await at(project, queue);
        if (place === null) return;
        frozen(place, queue);
        return place.source.subscriptions.delete(project, queue, id);
      },
      confirm: async (project, queue, id, confirmed) => {
        const place = await need(project, queue);
        frozen(place, queue);
        return place.source.subscriptions.confirm(project, queue, id, confirmed);
      },
    };
  }

  /** True when the management store and every pool answer. */
  async isAlive(): Promise<boolean> {
    try {
      const drivers = await this.catalog.drivers();
      const answers = await Promise.all([...drivers.values()].map((d) => d.isAlive()));
      return answers.every(Boolean);
    } catch {
      return false;
    }
  }

  /** Collects expired data in every pool that answers. */
  async gc(): Promise<GcReport> {
    // A closed catalog's pools are reported unreachable by drivers(), which gc would skip as away.
    if (this.catalog.closed) throw new ClosedError('the pooled driver');
    const total: GcReport = { messages: 0, claims: 0, subscriptions: 0 };
    for (const driver of (await this.catalog.drivers()).values()) {
      try {
        const report = await driver.gc();
        total.messages += report.messages;
        total.claims += report.claims;
        total.subscriptions += report.subscriptions;
      } catch {
        // A pool that is away is collected when it is back.
      }
    }
    return total;
  }

  close(): Promise<void> {
    return this.catalog.close();
  }

  /**
   * Runs `work` at the queue's placement, registering the queue first when the catalog does not
   * know it. When the work fails (a refused body, a store that is down) a registration made here
   * is undone, so a refused request leaves no ghost queue in the listing. It is undone only while
   * the pool holds nothing of the queue: a concurrent request that succeeded in between keeps it.
   */
  private async registering<T>(
    project: string,
    queue: string,
    flavor: string | null,
    work: (place: Placement) => Promise<T>,
  ): Promise<T> {
    const known = await this.catalog.route(project, queue);
    if (known !== null) return work(await this.catalog.placementOf(known));
    const place = await this.catalog.placeOrRegister(project, queue, flavor);
    try {
      return await work(place);
    } catch (error) {
      const held = await place.source.queues.exists(project, queue).catch(() => true);
      if (!held) await this.catalog.deregister(project, queue).catch(() => undefined);
      throw error;
    }
  }

  private async checkFlavor(flavor: string): Promise<void> {
    if ((await this.catalog.store.getFlavor(flavor)) === null) {
      throw new InvalidArgumentError('_flavor', `there is no flavor named ${JSON.stringify(flavor)}`);
    }
  }

  /** A queue's dead-letter queue must share its pool (see the class comment). */
  private async checkDeadLetter(
    project: string,
    queue: string,
    metadata: QueueMetadata,
    place: Placement,
  ): Promise<void> {
    const dlq = metadata._dead_letter_queue;
    if (typeof dlq !== 'string' || dlq === '' || dlq === queue) return;
    // The dead-letter queue is created below, before the pool's store checks the metadata: check
    // it first (as that store will), so metadata it refuses leaves no dead-letter queue behind.
    checkQueueMetadata(metadata, this.limits);
    const pool = place.route.pool;
    // Only a queue that dead-letters gets its dead-letter queue placed and made now (a store makes
    // none before); one named without _max_claim_count must still be in the same pool if anywhere.
    const deadLetters = deadLetterPolicy(metadata, queue) !== null;
    const route = deadLetters
      ? await this.catalog.registerIn(project, dlq, pool)
      : await this.catalog.route(project, dlq);
    if (route === null) return;
    if (route.pool === pool && route.to === undefined && place.target === null) {
      if (deadLetters) await (await this.catalog.driver(pool)).queues.create(project, dlq, {});
      return;
    }
    // Already set that way: a queue whose dead-letter queue was moved first keeps working.
    const current = await ignoreMissing(place.source.queues.getMetadata(project, queue), null);
    if (current?._dead_letter_queue === dlq) return;
    throw new InvalidArgumentError(
      '_dead_letter_queue',
      `the dead-letter queue ${dlq} lives in pool ${route.to ?? route.pool} and queue ${queue} in pool ` +
        `${place.route.to ?? pool}; a queue and its dead-letter queue must share a pool (move one of them first)`,
    );
  }
}

/** Listing markers of a moving queue: which half, then the pool's own marker. */
const TARGET_MARKER = 't:';
const SOURCE_MARKER = 's:';

/**
 * A page of a moving queue: the target's messages first (it holds the oldest: copies of the
 * source's head), then the source's. When the source has nothing more for now, the marker stays
 * where the half read last ended, so messages posted there later are seen by the next page.
 */
async function listMoving(
  place: Placement,
  project: string,
  queue: string,
  options: ListMessagesOptions,
  defaultLimit: number,
): Promise<MessagePage> {
  const target = place.target as DataDriver;
  const limit = options.limit ?? defaultLimit;
  const { marker: given, ...rest } = options;
  const messages: Message[] = [];
  // The target half's position: undefined at its start, null once left for the source half.
  let targetMarker: string | null | undefined;
  let sourceMarker: string | undefined;
  if (given?.startsWith(TARGET_MARKER)) targetMarker = given.slice(2);
  else if (given !== undefined) {
    targetMarker = null;
    // A marker from before the move is the source's own.
    sourceMarker = given.startsWith(SOURCE_MARKER) ? given.slice(2) : given;
  }
  if (targetMarker !== null) {
    const page = await ignoreMissing(
      target.messages.list(project, queue, {
        ...rest,
        ...(targetMarker !== undefined ? { marker: targetMarker } : {}),
        limit,
      }),
      null,
    );
    messages.push(...(page?.messages ?? []));
    targetMarker = page?.marker ?? targetMarker;
    if (messages.length >= limit) return { messages, marker: prefixed(TARGET_MARKER, targetMarker) };
  }
  const page = await ignoreMissing(
    place.source.messages.list(project, queue, {
      ...rest,
      ...(sourceMarker !== undefined ? { marker: sourceMarker } : {}),
      limit: limit - messages.length,
    }),
    null,
  );
  const fromSource = page?.messages ?? [];
  messages.push(...fromSource);
  if (fromSource.length > 0 && page?.marker != null) return { messages, marker: SOURCE_MARKER + page.marker };
  if (targetMarker !== null) return { messages, marker: prefixed(TARGET_MARKER, targetMarker) };
  return { messages, marker: prefixed(SOURCE_MARKER, sourceMarker) };
}

function prefixed(half: string, marker: string | undefined): string | null {
  return marker === undefined ? null : half + marker;
}

async function sourceThenTarget<T>(
  place: Placement,
  call: (driver: DataDriver) => Promise<T>,
  missing: (error: unknown) => boolean,
): Promise<T> {
  if (place.target === null) return call(place.source);
  try {
    return await call(place.source);
  } catch (error) {
    if (!missing(error)) throw error;
    return call(place.target);
  }
}

function isQueueMissing(error: unknown): boolean {
  return error instanceof QueueNotFoundError;
}

function isMessageMissing(error: unknown): boolean {
  return error instanceof MessageNotFoundError || error instanceof QueueNotFoundError;
}

function isClaimMissing(error: unknown): boolean {
  return error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError;
}

function isSubscriptionMissing(error: unknown): boolean {
  return error instanceof SubscriptionNotFoundError || error instanceof QueueNotFoundError;
}

function sumStats(a: QueueStats | null, b: QueueStats | null): QueueStats {
  const x = a ?? { claimed: 0, free: 0, delayed: 0, total: 0 };
  const y = b ?? { claimed: 0, free: 0, delayed: 0, total: 0 };
  const stats: QueueStats = {
    claimed: x.claimed + y.claimed,
    free: x.free + y.free,
    delayed: x.delayed + y.delayed,
    total: x.total + y.total,
  };
  const oldest = pick(x.oldest, y.oldest, (p, q) => p.createdAt <= q.createdAt);
  const newest = pick(x.newest, y.newest, (p, q) => p.createdAt >= q.createdAt);
  if (oldest) stats.oldest = oldest;
  if (newest) stats.newest = newest;
  return stats;
}

function pick(
  a: MessageStamp | undefined,
  b: MessageStamp | undefined,
  prefer: (p: MessageStamp, q: MessageStamp) => boolean,
): MessageStamp | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return prefer(a, b) ? a : b;
}
