/**
 * The pooled (routed) driver is the driver users get when pooling is on, so it passes the same
 * suite as every store: a routing bug fails the same cases a driver bug does.
 *
 * - 'pooled over two memory pools': a catalog over a memory management store and two memory
 *   pools of equal weight; queues land in one or the other.
 * - 'pooled during a queue move': the same, with every queue moving to the other pool for the
 *   whole case. A queue the case creates is moving before its first message (phase draining:
 *   posts go to the target, both pools hold the queue); a queue that comes into being by a post
 *   starts moving right after it (phase copying: its messages stay in the source). The moves are
 *   stopped ones — as after the server running them died, which every server must route through
 *   correctly — so no copying runs on its own between a case's steps and the case stays exactly
 *   as deterministic as on a single store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type ConformanceTarget, conformanceCases, runConformance } from '../../src/conformance/index.js';
import { type Clock, FakeClock, makeLimits } from '../../src/core/index.js';
import { Catalog, type MovePhase, PoolAdmin } from '../../src/pool/index.js';
import type { DataDriver } from '../../src/store/contract/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

/**
 * The contract's own limits, as every store of the suite has (a server opens its pools with wider
 * ones for the mover, poolStoreLimits; the cases check the contract's).
 */
const LIMITS = makeLimits();
const POOLS = ['a', 'b'] as const;
/** Two spellings of a memory pool's URI: the catalog opens one store per URI. */
const URIS = { a: 'memory://', b: 'memory:' } as const;

/** A catalog over memory stores with two registered pools; its routed driver is the target. */
async function pooledCatalog(clock: Clock): Promise<Catalog> {
  const stores = new Map<string, DataDriver>();
  const catalog = new Catalog({
    management: createMemoryDriver({ clock, limits: LIMITS }),
    embedded: null,
    limits: LIMITS,
    clock,
    openDriver: async (uri) => {
      let store = stores.get(uri);
      if (store === undefined) {
        store = createMemoryDriver({ clock, limits: LIMITS });
        stores.set(uri, store);
      }
      return store;
    },
  });
  const admin = new PoolAdmin(catalog);
  for (const pool of POOLS) await admin.createPool(pool, { uri: URIS[pool], weight: 1 });
  return catalog;
}

/**
 * Puts a queue in the middle of a move to the other pool, as the mover's first step leaves it
 * (queue-mover.ts): the target holds the queue with the source's metadata, and the route names
 * both pools and the phase.
 */
async function startMove(catalog: Catalog, project: string, queue: string, phase: MovePhase): Promise<void> {
  const route = await catalog.route(project, queue, true);
  if (route === null || route.to !== undefined) return;
  const to = route.pool === POOLS[0] ? POOLS[1] : POOLS[0];
  const [source, target] = await Promise.all([catalog.driver(route.pool), catalog.driver(to)]);
  await target.queues.create(project, queue, await source.queues.getMetadata(project, queue));
  const moving = { pool: route.pool, to, phase, move: randomUUID() };
  await catalog.store.setRoute(project, queue, moving);
  catalog.remember(project, queue, moving);
}

/** The routed driver, with every queue moving from the moment it exists. */
function moving(catalog: Catalog): DataDriver {
  const routed = catalog.routed;
  const queues = Object.create(routed.queues) as DataDriver['queues'];
  queues.create = async (project, queue, metadata) => {
    const created = await routed.queues.create(project, queue, metadata);
    if (created) await startMove(catalog, project, queue, 'draining');
    return created;
  };
  const messages = Object.create(routed.messages) as DataDriver['messages'];
  messages.post = async (project, queue, list, clientId, options) => {
    const isNew = (await catalog.route(project, queue, true)) === null;
    const ids = await routed.messages.post(project, queue, list, clientId, options);
    if (isNew) await startMove(catalog, project, queue, 'copying');
    return ids;
  };
  return new Proxy(routed, {
    get(target, key) {
      if (key === 'queues') return queues;
      if (key === 'messages') return messages;
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const pooled: ConformanceTarget = {
  name: 'pooled over two memory pools',
  async open(clock: FakeClock) {
    return (await pooledCatalog(clock)).routed;
  },
};

const SUBSCRIPTIONS_FROZEN =
  'the case makes subscriptions, and a moving queue refuses subscription changes (503, try again) until the move ends';
const DEAD_LETTERS_STAY =
  "a pool moves dead letters within itself, and the case's dead-letter queue is not moving with its queue " +
  '(a queue and its dead-letter queue must share a pool: one is moved at a time)';

const duringMove: ConformanceTarget = {
  name: 'pooled during a queue move',
  async open(clock: FakeClock) {
    return moving(await pooledCatalog(clock));
  },
  // What a move refuses or cannot do by design (queue-mover.ts, routed-driver.ts), so these
  // cases cannot hold while every queue is moving.
  skips: {
    ...Object.fromEntries(
      [
        'delete removes the queue with its messages and subscriptions, and is idempotent',
        'gc reclaims expired messages, claims and subscriptions and keeps the live ones',
        'an expired subscription is gone, and its subscriber may subscribe anew',
        'the same queue name in two projects never mixes',
        'create, get, exists, get by subscriber, update, confirm and delete',
        'one subscription per (project, queue, subscriber)',
        'list pages through subscriptions in creation order',
        'every bad argument is a typed error naming the field, and changes nothing',
      ].map((name) => [name, SUBSCRIPTIONS_FROZEN]),
    ),
    ...Object.fromEntries(
      [
        'a message claimed _max_claim_count times moves to the dead-letter queue instead of being claimed again',
        '_dead_letter_queue_messages_ttl gives moved messages a new lifetime',
      ].map((name) => [name, DEAD_LETTERS_STAY]),
    ),
  },
};

runConformance(pooled, conformanceCases);
runConformance(duringMove, conformanceCases);

describe('conformance: the moving target moves', () => {
  it('puts a created queue at draining and a posted one at copying, each bound for the other pool', async () => {
    const catalog = await pooledCatalog(new FakeClock());
    const driver = moving(catalog);
    try {
      await driver.queues.create('p', 'made', { keep: 1 });
      await driver.messages.post('p', 'posted', [{ body: 1 }], 'c');
      for (const [queue, phase] of [
        ['made', 'draining'],
        ['posted', 'copying'],
      ] as const) {
        const route = await catalog.route('p', queue, true);
        assert.equal(route?.phase, phase, queue);
        assert.ok(route.to !== undefined && route.to !== route.pool, `${queue} moves to the other pool`);
        assert.deepEqual(
          await (await catalog.driver(route.to)).queues.getMetadata('p', queue),
          queue === 'made' ? { keep: 1 } : {},
        );
      }
    } finally {
      await driver.close();
    }
  });
});
