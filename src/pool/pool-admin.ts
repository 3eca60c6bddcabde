import {
  ALL_CAPABILITIES,
  type Capability,
  InvalidArgumentError,
  isPlainObject,
  PoolCapabilitiesMismatchError,
  PoolInUseError,
  QUEUE_NAME_PATTERN,
  ResourceConflictError,
  ResourceNotFoundError,
} from '../core/index.js';
import { type Catalog, EMBEDDED_POOL } from './catalog.js';
import type { FlavorRecord, PoolRecord } from './management-store.js';
import { MAX_POOL_URI_LENGTH, parsePoolUri, redactPoolUri } from './pool-uri.js';

/** Zaqar's bound on a pool's weight (an unsigned 32-bit integer). */
export const MAX_POOL_WEIGHT = 2 ** 32 - 1;
const MAX_NAME_LENGTH = 64;
const MAX_FLAVOR_FIELD = 255;

/** A pool as the admin API shows it (Zaqar's shape, without href). */
export interface PoolView {
  name: string;
  uri: string;
  weight: number;
  flavor: string | null;
  options?: Record<string, unknown>;
  /** Posthorn's addition: what the pool's store declared. */
  capabilities: Capability[];
}

/** A flavor as the admin API shows it (Zaqar's shape, without href). */
export interface FlavorView {
  name: string;
  pool_list: string[];
  capabilities?: Capability[];
}

export interface PageQuery {
  marker?: string;
  limit?: number;
  detailed?: boolean;
}

const POOL_CREATE_KEYS = new Set(['weight', 'uri', 'flavor', 'options']);
/** Zaqar's schema still takes a pool `group` (replaced by flavors); it is accepted and ignored. */
const POOL_BODY_KEYS = new Set([...POOL_CREATE_KEYS, 'group']);
const FLAVOR_KEYS = new Set(['pool_list', 'capabilities']);

/**
 * The operator's side of pooling — Zaqar's pools and flavors resources (v2_0/pools.py,
 * flavors.py) with their rules, for every transport (the HTTP admin routes call it):
 *
 * - a pool is registered only when its URI parses and its store answers (else
 *   InvalidArgumentError on `uri`: 400), under a name not taken (ResourceConflictError: 409);
 * - a pool's capabilities are what its store declares; a pool joins a flavor only with the
 *   flavor's capabilities (PoolCapabilitiesMismatchError: 400);
 * - a pool a flavor lists cannot be deleted (PoolInUseError: 403);
 * - a flavor's pools are the pools whose `flavor` names it (PUT/PATCH of a flavor's pool_list sets
 *   that field on each pool, as Zaqar does).
 *
 * Bodies are checked here (unknown keys refused), so every transport refuses the same input.
 */
export class PoolAdmin {
  constructor(readonly catalog: Catalog) {}

  private get store() {
    return this.catalog.store;
  }

  // --- pools --------------------------------------------------------------------------------

  async listPools(query: PageQuery = {}): Promise<{ pools: PoolView[]; marker: string | null }> {
    const limit = this.pageLimit(query.limit, this.catalog.limits.maxPoolsPerPage);
    const page = await this.store.listPools(query.marker, limit);
    return { pools: page.pools.map((p) => poolView(p, query.detailed === true)), marker: page.marker };
  }

  async getPool(name: string, detailed = false): Promise<PoolView> {
    checkName(name, 'pool');
    const record = await this.store.getPool(name);
    if (record === null) throw new ResourceNotFoundError('pool', name);
    return poolView(record, detailed);
  }

  /** Registers a pool: `{"weight": 0..2^32-1, "uri": "...", "flavor"?: "...", "options"?: {}}`. */
  async createPool(name: string, document: unknown): Promise<PoolView> {
    checkName(name, 'pool');
    const body = checkDocument(document, POOL_BODY_KEYS);
    if (body.weight === undefined) throw new InvalidArgumentError('weight', 'is required');
    if (body.uri === undefined) throw new InvalidArgumentError('uri', 'is required');
    const weight = checkWeight(body.weight);
    const uri = this.checkUri(body.uri);
    const flavor = checkFlavorField(body.flavor);
    const options = checkOptions(body.options);
    if (name === EMBEDDED_POOL && this.catalog.embedded !== null) {
      throw new ResourceConflictError('pool', name, 'is the name of the embedded store');
    }
    if ((await this.store.getPool(name)) !== null) throw new ResourceConflictError('pool', name, 'exists already');
    const capabilities = await this.probe(name, uri);
    const record: PoolRecord = { name, uri, weight, flavor, options, capabilities };
    try {
      if (flavor !== null) await this.checkJoin(record, flavor);
      if (!(await this.store.insertPool(record))) throw new ResourceConflictError('pool', name, 'exists already');
    } catch (error) {
      this.catalog.dropDriver(name);
      throw error;
    }
    this.catalog.poolChanged(name, false);
    return poolView(record, true);
  }

  /** Changes any of a pool's `weight`, `uri`, `flavor` and `options`. */
  async updatePool(name: string, document: unknown): Promise<PoolView> {
    checkName(name, 'pool');
    const body = checkDocument(document, POOL_BODY_KEYS);
    if (![...POOL_CREATE_KEYS].some((key) => body[key] !== undefined)) {
      throw new InvalidArgumentError('body', 'one of uri, weight, flavor or options must be given');
    }
    const current = await this.store.getPool(name);
    if (current === null) throw new ResourceNotFoundError('pool', name);
    const next: PoolRecord = { ...current };
    if (body.weight !== undefined) next.weight = checkWeight(body.weight);
    if (body.options !== undefined) next.options = checkOptions(body.options);
    if (body.flavor !== undefined) next.flavor = checkFlavorField(body.flavor);
    const uriChanged = body.uri !== undefined && body.uri !== current.uri;
    if (uriChanged) {
      next.uri = this.checkUri(body.uri);
      next.capabilities = await this.probe(name, next.uri);
    }
    if (next.flavor !== null && (next.flavor !== current.flavor || uriChanged)) await this.checkJoin(next, next.flavor);
    if (!(await this.store.updatePool(next))) throw new ResourceNotFoundError('pool', name);
    this.catalog.poolChanged(name, uriChanged);
    return poolView(next, true);
  }

  /** Deletes a pool (nothing when it does not exist); refused while a flavor lists it. */
  async deletePool(name: string): Promise<void> {
    checkName(name, 'pool');
    const record = await this.store.getPool(name);
    if (record === null) return;
    if (record.flavor !== null && (await this.store.getFlavor(record.flavor)) !== null) {
      throw new PoolInUseError(name, record.flavor);
    }
    const moving = (await this.store.allMoves()).find(
      (m) => m.status === 'running' && (m.from === name || m.to === name),
    );
    if (moving !== undefined) {
      throw new ResourceConflictError(
        'pool',
        name,
        `queue ${moving.queue} is moving ${moving.from === name ? 'out of' : 'into'} it`,
      );
    }
    await this.store.deletePool(name);
    this.catalog.poolChanged(name, true);
  }

  // --- flavors ------------------------------------------------------------------------------

  async listFlavors(query: PageQuery = {}): Promise<{ flavors: FlavorView[]; marker: string | null }> {
    const limit = this.pageLimit(query.limit, this.catalog.limits.maxFlavorsPerPage);
    const page = await this.store.listFlavors(query.marker, limit);
    const pools = await this.catalog.pools(true);
    return {
      flavors: page.flavors.map((f) => flavorView(f, pools, query.detailed === true)),
      marker: page.marker,
    };
  }

  async getFlavor(name: string): Promise<FlavorView> {
    checkName(name, 'flavor');
    const record = await this.store.getFlavor(name);
    if (record === null) throw new ResourceNotFoundError('flavor', name);
    return flavorView(record, await this.catalog.pools(true), true);
  }

  /** Creates a flavor over `{"pool_list": [...]}`; the pools must share their capabilities. */
  async createFlavor(name: string, document: unknown): Promise<FlavorView> {
    checkName(name, 'flavor');
    const body = checkDocument(document, FLAVOR_KEYS);
    const pools = await this.flavorPools(name, body.pool_list);
    if ((await this.store.getFlavor(name)) !== null) throw new ResourceConflictError('flavor', name, 'exists already');
    const record: FlavorRecord = { name, capabilities: (pools[0] as PoolRecord).capabilities };
    if (!(await this.store.insertFlavor(record))) throw new ResourceConflictError('flavor', name, 'exists already');
    await this.assign(name, pools);
    return flavorView(record, await this.catalog.pools(true), true);
  }

  /** Replaces a flavor's pool list. */
  async updateFlavor(name: string, document: unknown): Promise<FlavorView> {
    checkName(name, 'flavor');
    const body = checkDocument(document, FLAVOR_KEYS);
    if (body.pool_list === undefined) throw new InvalidArgumentError('pool_list', 'is required');
    const current = await this.store.getFlavor(name);
    if (current === null) throw new ResourceNotFoundError('flavor', name);
    const pools = await this.flavorPools(name, body.pool_list);
    const record: FlavorRecord = { name, capabilities: (pools[0] as PoolRecord).capabilities };
    if (!(await this.store.updateFlavor(record))) throw new ResourceNotFoundError('flavor', name);
    await this.assign(name, pools);
    return flavorView(record, await this.catalog.pools(true), true);
  }

  /** Deletes a flavor (its pools keep serving, in no flavor); nothing when it does not exist. */
  async deleteFlavor(name: string): Promise<void> {
    checkName(name, 'flavor');
    for (const pool of (await this.catalog.pools(true)).values()) {
      if (pool.flavor === name) await this.setFlavor(pool, null);
    }
    await this.store.deleteFlavor(name);
  }

  // --- helpers ------------------------------------------------------------------------------

  private pageLimit(limit: number | undefined, max: number): number {
    if (limit === undefined) return this.catalog.limits.defaultPageSize;
    if (!Number.isInteger(limit) || limit < 1 || limit > max) {
      throw new InvalidArgumentError('limit', `must be from 1 to ${max}`);
    }
    return limit;
  }

  private checkUri(value: unknown): string {
    if (typeof value !== 'string' || value.length > MAX_POOL_URI_LENGTH) {
      throw new InvalidArgumentError('uri', `must be a string of at most ${MAX_POOL_URI_LENGTH} characters`);
    }
    const location = parsePoolUri(value);
    if (this.catalog.sharedOnly && !location.shared) {
      throw new InvalidArgumentError(
        'uri',
        'the catalogue is shared by several servers, so a pool must be one they can all reach: redis://, redis+cluster:// or postgres://',
      );
    }
    return value;
  }

  /** Opens the pool's store (it must answer) and reads its capabilities. */
  private async probe(name: string, uri: string): Promise<Capability[]> {
    try {
      const driver = await this.catalog.openForCheck(name, uri);
      return ALL_CAPABILITIES.filter((c) => driver.capabilities.has(c));
    } catch (error) {
      this.catalog.dropDriver(name);
      throw new InvalidArgumentError('uri', `cannot connect to ${redactPoolUri(uri)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** A pool may join a flavor only with the capabilities of the flavor (and of its other pools). */
  private async checkJoin(pool: PoolRecord, flavor: string): Promise<void> {
    const record = await this.store.getFlavor(flavor);
    const peers = [...(await this.catalog.pools(true)).values()].filter(
      (p) => p.flavor === flavor && p.name !== pool.name,
    );
    const expected = record?.capabilities ?? peers[0]?.capabilities;
    if (expected !== undefined && !sameCapabilities(expected, pool.capabilities)) {
      throw new PoolCapabilitiesMismatchError(
        pool.name,
        flavor,
        `the pool has ${describeCapabilities(pool.capabilities)} and the flavor ${describeCapabilities(expected)}`,
      );
    }
  }

  private async flavorPools(flavor: string, value: unknown): Promise<PoolRecord[]> {
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
      throw new InvalidArgumentError('pool_list', 'must be a non-empty list of pool names');
    }
    const table = await this.catalog.pools(true);
    const pools: PoolRecord[] = [];
    for (const name of new Set(value as string[])) {
      const pool = table.get(name);
      if (pool === undefined)
        throw new InvalidArgumentError('pool_list', `there is no pool named ${JSON.stringify(name)}`);
      pools.push(pool);
    }
    const first = pools[0] as PoolRecord;
    for (const pool of pools) {
      if (!sameCapabilities(pool.capabilities, first.capabilities)) {
        throw new PoolCapabilitiesMismatchError(
          pool.name,
          flavor,
          `it has ${describeCapabilities(pool.capabilities)} and pool ${first.name} ${describeCapabilities(first.capabilities)}`,
        );
      }
    }
    return pools;
  }

  /** Makes `pools` the flavor's pools: each names the flavor; pools no longer listed name none. */
  private async assign(flavor: string, pools: PoolRecord[]): Promise<void> {
    const listed = new Set(pools.map((p) => p.name));
    for (const pool of (await this.catalog.pools(true)).values()) {
      if (listed.has(pool.name) && pool.flavor !== flavor) await this.setFlavor(pool, flavor);
      else if (!listed.has(pool.name) && pool.flavor === flavor) await this.setFlavor(pool, null);
    }
  }

  private async setFlavor(pool: PoolRecord, flavor: string | null): Promise<void> {
    await this.store.updatePool({ ...pool, flavor });
    this.catalog.poolChanged(pool.name, false);
  }
}

function checkName(name: unknown, kind: 'pool' | 'flavor'): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    !QUEUE_NAME_PATTERN.test(name)
  ) {
    throw new InvalidArgumentError(
      `${kind}_name`,
      `a ${kind} name must be 1 to ${MAX_NAME_LENGTH} letters, digits, "_", "-" and "."`,
    );
  }
  return name;
}

function checkDocument(document: unknown, known: Set<string>): Record<string, unknown> {
  if (!isPlainObject(document)) throw new InvalidArgumentError('body', 'must be a JSON object');
  for (const key of Object.keys(document)) {
    if (!known.has(key))
      throw new InvalidArgumentError(key, `is not a field of this resource (known: ${[...known].join(', ')})`);
  }
  return document;
}

function checkWeight(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_POOL_WEIGHT) {
    throw new InvalidArgumentError('weight', `must be an integer from 0 to ${MAX_POOL_WEIGHT}`);
  }
  return value;
}

function checkFlavorField(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > MAX_FLAVOR_FIELD) {
    throw new InvalidArgumentError('flavor', `must be a flavor name of at most ${MAX_FLAVOR_FIELD} characters`);
  }
  return value;
}

function checkOptions(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new InvalidArgumentError('options', 'must be a JSON object');
  return value;
}

function sameCapabilities(a: readonly Capability[], b: readonly Capability[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}

function describeCapabilities(capabilities: readonly Capability[]): string {
  return capabilities.length === 0 ? 'no capabilities' : capabilities.join(', ');
}

function poolView(record: PoolRecord, detailed: boolean): PoolView {
  return {
    name: record.name,
    uri: record.uri,
    weight: record.weight,
    flavor: record.flavor,
    ...(detailed ? { options: record.options } : {}),
    capabilities: record.capabilities,
  };
}

function flavorView(record: FlavorRecord, pools: Map<string, PoolRecord>, detailed: boolean): FlavorView {
  const poolList = [...pools.values()].filter((p) => p.flavor === record.name).map((p) => p.name);
  return { name: record.name, pool_list: poolList, ...(detailed ? { capabilities: record.capabilities } : {}) };
}
