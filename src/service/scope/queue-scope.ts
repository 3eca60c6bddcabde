import {
  InvalidArgumentError,
  ignoreMissing,
  isPlainObject,
  type QueueMetadata,
  type QueueStats,
  RESERVED_METADATA,
} from '../../core/index.js';
import type { QueuePage } from '../../store/contract/index.js';
import { checkCountParameter, readPurge } from '../documents.js';
import { apiError, bodyError, RequestRefusedError } from '../errors.js';
import { applyMetadataPatch, parseMetadataPatch } from '../metadata-patch.js';
import { storeProject } from '../namespaces.js';
import { checkReservedMetadata, reservedDefaults, withReservedDefaults } from '../reserved-metadata.js';
import type { ScopeContext } from './scope-context.js';

export interface ListQueuesQuery {
  marker?: string;
  limit?: number;
  detailed?: boolean;
  name?: string;
  withCount?: boolean;
  /** Metadata filters: only queues whose metadata has each key with an equal value. */
  filter?: Record<string, unknown>;
}

const EMPTY_STATS: QueueStats = Object.freeze({ claimed: 0, free: 0, delayed: 0, total: 0 }) as QueueStats;

/** The queues (or topics) themselves: their metadata, counts, listing, deletion and purge. */
export class QueueScope {
  /** The keys a metadata patch may not remove: Zaqar's reserved ones, of queues whatever the kind. */
  private readonly reservedKeys: ReadonlySet<string>;

  constructor(private readonly ctx: ScopeContext) {
    this.reservedKeys = new Set([
      ...reservedDefaults('queue', ctx.limits).map(([key]) => key),
      '_flavor',
      '_retry_policy',
      RESERVED_METADATA.idempotencyWindow,
    ]);
  }

  async list(project: string, query: ListQueuesQuery = {}): Promise<QueuePage> {
    const { ctx } = this;
    const limit = checkCountParameter(query.limit, 'limit', ctx.limits.maxQueuesPerPage);
    let page: QueuePage;
    try {
      page = await ctx.resolver.listQueues(storeProject(ctx.kind, project), {
        ...(query.marker !== undefined ? { marker: query.marker } : {}),
        ...(limit !== undefined ? { limit } : {}),
        detailed: query.detailed === true,
        ...(query.name !== undefined ? { name: query.name } : {}),
        ...(query.filter !== undefined ? { filter: query.filter } : {}),
        withCount: query.withCount === true,
      });
    } catch (error) {
      // A marker the store did not make points nowhere: an empty page, as Zaqar answers.
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { queues: [], marker: null };
      throw error;
    }
    if (query.detailed === true) {
      for (const queue of page.queues) queue.metadata = withReservedDefaults(queue.metadata ?? {}, ctx.defaults);
    }
    return page;
  }

  /** Creates the queue with `metadata` (no document: none); false when it existed (then nothing changes). */
  async create(project: string, name: string, metadata: unknown): Promise<boolean> {
    const { ctx } = this;
    ctx.checkName(name);
    const document = metadata === undefined ? {} : metadata;
    if (!isPlainObject(document)) throw bodyError('body', `The ${ctx.kind} metadata must be a JSON object.`);
    checkReservedMetadata(document, ctx.limits);
    ctx.checkEncryptable(document, (field, text) => apiError(field, text));
    const driver = await ctx.driver(project, name);
    const reservation = await ctx.reserve(project, { queue: name });
    const created = await ctx.quotaBound(
      reservation,
      driver.queues.create(storeProject(ctx.kind, project), name, document),
    );
    ctx.metadataChanged(project, name);
    return created;
  }

  /** The queue's metadata, with the reserved keys' defaults filled in unless told not to (API v1.1). */
  async get(project: string, name: string, withDefaults = true): Promise<QueueMetadata> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    const metadata = await ctx.translate(name, driver.queues.getMetadata(storeProject(ctx.kind, project), name));
    return withDefaults ? withReservedDefaults(metadata, ctx.defaults) : metadata;
  }

  /** Applies a JSON-patch document to the metadata; returns the new metadata with defaults. */
  async patch(project: string, name: string, document: unknown): Promise<QueueMetadata> {
    const { ctx } = this;
    ctx.checkName(name);
    const changes = parseMetadataPatch(document);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const current = await ctx.translate(name, driver.queues.getMetadata(sp, name));
    const next = applyMetadataPatch(current, changes, this.reservedKeys);
    try {
      checkReservedMetadata(next, ctx.limits);
    } catch (error) {
      // Zaqar answers a patch that breaks a reserved key's rule as a bad body.
      if (error instanceof RequestRefusedError) throw bodyError(error.field, error.description);
      throw error;
    }
    ctx.checkEncryptable(next, (field, text) => bodyError(field, text));
    await ctx.translate(name, driver.queues.setMetadata(sp, name, next));
    ctx.metadataChanged(project, name);
    return withReservedDefaults(next, ctx.defaults);
  }

  async delete(project: string, name: string): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const sp = storeProject(ctx.kind, project);
    const driver = await ctx.driver(project, name);
    await driver.queues.delete(sp, name);
    ctx.quotas?.queueDeleted(project, name);
    ctx.metadataChanged(project, name);
    await ctx.resolver.queueDeleted?.(sp, name);
  }

  /** Counts of the queue's messages; zeros for a queue that does not exist. */
  async stats(project: string, name: string): Promise<QueueStats> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    return ignoreMissing(driver.queues.stats(storeProject(ctx.kind, project), name), EMPTY_STATS);
  }

  /** Deletes every message (claimed, delayed or not) and/or every subscription of the queue. */
  async purge(project: string, name: string, document: unknown): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const types = readPurge(document);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const notifier = ctx.settings.notifier;
    if (types.has('messages')) {
      ctx.quotas?.deleted(project);
      const limit = ctx.limits.maxMessagesPerPage;
      for (;;) {
        const page = await ignoreMissing(
          driver.messages.list(sp, name, { limit, echo: true, includeClaimed: true, includeDelayed: true }),
          null,
        );
        if (page === null || page.messages.length === 0) break;
        await driver.messages.bulkDelete(
          sp,
          name,
          page.messages.map((m) => m.id),
        );
      }
    }
    if (types.has('subscriptions')) {
      for (;;) {
        const page = await ignoreMissing(
          driver.subscriptions.list(sp, name, { limit: ctx.limits.maxSubscriptionsPerPage }),
          null,
        );
        if (page === null || page.subscriptions.length === 0) break;
        for (const s of page.subscriptions) {
          await driver.subscriptions.delete(sp, name, s.id);
          notifier?.removed(s.id);
        }
      }
      notifier?.forget(ctx.kind, project, name);
    }
  }
}
