import {
  ClaimNotFoundError,
  type Message,
  QueueNotFoundError,
  type Subscription,
  SubscriptionNotFoundError,
} from '../../core/index.js';
import {
  type AdminToken,
  apiError,
  isoSeconds,
  type PoolAdministration,
  type QueueService,
  redriveDocument,
} from '../../service/index.js';
import { homeDocument, V2 } from '../shared/index.js';

/**
 * The actions of Zaqar's WebSocket API (zaqar/api/v2/endpoints.py) over the same QueueService as
 * the HTTP API, so every rule and limit is the same. Bodies and statuses are Zaqar's: the body of
 * a success is the resource (or a sentence, for writes), `{"messages": ...}` for messages.
 */

export interface ActionResult {
  status: number;
  body: unknown;
}

/** What an action raised, with the sentence Zaqar's endpoint gives for it. */
export class ActionError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly exception: string = description,
  ) {
    super(description);
  }
}

export interface ActionContext {
  service: QueueService;
  /**
   * The service's pool administration (it checks bodies, so the transports refuse the same input);
   * null when the server has no pooling: pool and flavor actions answer 404, as Zaqar's admin API
   * does then.
   */
  pools: PoolAdministration | null;
  /** Who may make pool and flavor requests (their X-Admin-Token header, as over HTTP). */
  admin: AdminToken;
  /** The project the access control settled for this request (null: the headers' X-Project-ID decides). */
  project: string | null;
  /** The access control granted admin actions (an admin role, or the admin token). */
  adminGranted: boolean;
  /** The subscriber URI that sends notifications to this socket. */
  socketSubscriber(): string;
  /** A subscription of this socket to itself was made: delete it when the socket closes. */
  subscribedSocket(project: string, queue: string, id: string): void;
}

export type Body = Record<string, unknown>;
type Handler = (body: Body, headers: Record<string, string>, ctx: ActionContext) => Promise<ActionResult>;

const ok = (body: unknown, status = 200): ActionResult => ({ status, body });

/** A Zaqar message as the WebSocket API shows it (api/utils.format_message). */
function formatMessage(m: Message, claimId: string | null = null): Record<string, unknown> {
  return { id: m.id, claim_id: claimId, ttl: m.ttl, age: m.age, body: m.body };
}

function formatSubscription(s: Subscription): Record<string, unknown> {
  return {
    id: s.id,
    source: s.source,
    subscriber: s.subscriber,
    ttl: s.ttl,
    age: s.age,
    options: s.options,
    confirmed: s.confirmed,
  };
}

function identity(ctx: ActionContext, headers: Record<string, string>): { project: string; clientId: string } {
  return {
    project: ctx.project ?? ctx.service.checkProject(headers['X-Project-ID']),
    clientId: ctx.service.checkClientId(headers['Client-ID']),
  };
}

function text(body: Body, name: string): string {
  return body[name] as string;
}

function optional<T>(body: Body, name: string): T | undefined {
  const value = body[name];
  return value === undefined || value === null ? undefined : (value as T);
}

/** Zaqar reads `limit`, `detailed`, `echo`... from the body, and `true`/`false` strings as booleans. */
function flag(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    if (['true', 'yes', '1', 'on', 't', 'y'].includes(v)) return true;
    if (['false', 'no', '0', 'off', 'f', 'n'].includes(v)) return false;
  }
  throw apiError(name, `"${name}" must be true or false.`);
}

function integer(body: Body, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw apiError(name, `"${name}" must be an integer.`);
  return n;
}

/** The paging fields of a listing (`marker`, `limit`, and `detailed` where it has one), absent ones left out. */
function listing(body: Body, detailed: boolean): { marker?: string; limit?: number; detailed?: boolean } {
  const marker = optional<string>(body, 'marker');
  const limit = integer(body, 'limit');
  const details = detailed ? flag(body, 'detailed') : undefined;
  return {
    ...(marker !== undefined ? { marker } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(details !== undefined ? { detailed: details } : {}),
  };
}

function strings(body: Body, name: string): string[] {
  const value = body[name];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw apiError(name, `"${name}" must be a list of ids.`);
  }
  return value as string[];
}

/** The pools admin, for a request that carries the admin token (as /v2/pools and /v2/flavors require). */
function pools(ctx: ActionContext, headers: Record<string, string>): PoolAdministration {
  if (ctx.pools === null)
    throw new ActionError(404, 'Pooling is not enabled on this server: it has no pools or flavors.');
  if (ctx.adminGranted) return ctx.pools;
  const given = headers['X-Admin-Token'];
  const refusal = ctx.admin.refusal(typeof given === 'string' ? given : undefined);
  if (refusal !== null) throw new ActionError(403, refusal);
  return ctx.pools;
}

function without(body: Body, ...names: string[]): Body {
  const out: Body = {};
  for (const [key, value] of Object.entries(body)) if (!names.includes(key)) out[key] = value;
  return out;
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

export const HANDLERS: Readonly<Record<string, Handler>> = Object.freeze({
  async get_home_doc() {
    return ok(JSON.parse(homeDocument(V2)));
  },

  async check_node_health(_body, headers, ctx) {
    const given = headers['X-Admin-Token'];
    const refusal = ctx.adminGranted ? null : ctx.admin.privateRefusal(typeof given === 'string' ? given : undefined);
    if (refusal !== null) throw new ActionError(403, refusal);
    const report = await ctx.service.health();
    const single = report.size === 1 ? report.get('default') : undefined;
    return ok(single ?? { catalog_reachable: true, ...Object.fromEntries(report) });
  },

  async ping_node(_body, _headers, ctx) {
    return (await ctx.service.isAlive()) ? ok({}, 204) : ok({}, 503);
  },

  // The socket's credential is checked by ws-api.ts (it keeps it for the socket's later requests);
  // under noauth there is none to check and authenticate succeeds, as Zaqar's does.
  async authenticate() {
    return ok({ message: 'Authentified.' });
  },

  // --- queues ---------------------------------------------------------------------------------

  async queue_list(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const page = await ctx.service.queues.list(project, listing(body, true));
    return ok({
      queues: page.queues.map((q) =>
        q.metadata === undefined ? { name: q.name } : { name: q.name, metadata: q.metadata },
      ),
    });
  },

  async queue_create(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    const metadata = body.metadata ?? {};
    if (jsonBytes(metadata) > ctx.service.limits.maxQueueMetadataSize) {
      throw apiError('metadata', `Queue metadata is too large. Max size: ${ctx.service.limits.maxQueueMetadataSize}`);
    }
    const created = await ctx.service.queues.create(project, name, metadata);
    return ok(`Queue ${name} created.`, created ? 201 : 204);
  },

  async queue_delete(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    await ctx.service.queues.delete(project, name);
    return ok(`Queue ${name} removed.`, 204);
  },

  async queue_get(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    try {
      return ok(await ctx.service.queues.get(project, name));
    } catch (error) {
      if (error instanceof QueueNotFoundError) throw new ActionError(404, `Queue ${name} does not exist.`);
      throw error;
    }
  },

  async queue_get_stats(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const stats = await ctx.service.queues.stats(project, text(body, 'queue_name'));
    const messages: Record<string, unknown> = { claimed: stats.claimed, free: stats.free, total: stats.total };
    if (stats.total > 0 && stats.oldest && stats.newest) {
      messages.oldest = { id: stats.oldest.id, age: stats.oldest.age, created: isoSeconds(stats.oldest.createdAt) };
      messages.newest = { id: stats.newest.id, age: stats.newest.age, created: isoSeconds(stats.newest.createdAt) };
    }
    return ok({ messages });
  },

  async queue_purge(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const types = body.resource_types;
    await ctx.service.queues.purge(
      project,
      text(body, 'queue_name'),
      types === undefined ? undefined : { resource_types: types },
    );
    return ok({}, 204);
  },

  /** Posthorn's own (service/dead-letters.ts): `message_ids` names dead letters; none: all of them. */
  async queue_redrive(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const ids = body.message_ids;
    const result = await ctx.service.redrive(project, text(body, 'queue_name'), ids === undefined ? {} : { ids });
    return ok(redriveDocument(result));
  },

  // --- messages -------------------------------------------------------------------------------

  async message_list(body, headers, ctx) {
    const { project, clientId } = identity(ctx, headers);
    const paging = listing(body, false);
    const echo = flag(body, 'echo');
    const includeClaimed = flag(body, 'include_claimed');
    const includeDelayed = flag(body, 'include_delayed');
    const page = await ctx.service.queues.listMessages(project, text(body, 'queue_name'), clientId, {
      ...paging,
      ...(echo !== undefined ? { echo } : {}),
      ...(includeClaimed !== undefined ? { includeClaimed } : {}),
      ...(includeDelayed !== undefined ? { includeDelayed } : {}),
    });
    return ok({ messages: page.messages.map((m) => formatMessage(m)) });
  },

  async message_get(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const message = await ctx.service.queues.getMessage(project, text(body, 'queue_name'), text(body, 'message_id'));
    return ok({ messages: formatMessage(message) });
  },

  async message_get_many(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const found = await ctx.service.queues.getMessages(project, text(body, 'queue_name'), strings(body, 'message_ids'));
    return ok({ messages: found.map((m) => formatMessage(m)) });
  },

  async message_post(body, headers, ctx) {
    const { project, clientId } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    // Zaqar measures the messages document before reading it (message_length).
    await ctx.service.queues.checkPostSize(project, name, jsonBytes(body.messages));
    // The key as the body's `idempotency_key` or an `Idempotency-Key` header (HTTP's name).
    const key = optional<string>(body, 'idempotency_key') ?? headers['Idempotency-Key'];
    const ids = await ctx.service.queues.post(
      project,
      name,
      clientId,
      { messages: body.messages },
      key === undefined ? undefined : { idempotencyKey: key },
    );
    return ok({ message_ids: ids }, 201);
  },

  async message_delete(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const claimId = optional<string>(body, 'claim_id');
    // Posthorn's fenced delete, as `?fenced=true` over HTTP: with it, a message already gone is
    // refused (404) too, so a worker learns that its lease was lost.
    const fenced = flag(body, 'fenced') ?? false;
    try {
      await ctx.service.queues.deleteMessage(
        project,
        text(body, 'queue_name'),
        text(body, 'message_id'),
        claimId,
        fenced,
      );
    } catch (error) {
      if (error instanceof ClaimNotFoundError) {
        throw new ActionError(400, 'The specified claim does not exist or has expired.', error.message);
      }
      throw error;
    }
    return ok({}, 204);
  },

  async message_delete_many(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    const ids = body.message_ids === undefined || body.message_ids === null ? undefined : strings(body, 'message_ids');
    const pop = integer(body, 'pop');
    if (ids !== undefined && pop !== undefined) {
      throw apiError('pop', 'pop and id params cannot be present together in the delete request.');
    }
    if (ids === undefined && pop === undefined) {
      throw apiError(
        'message_ids',
        'The request should have either "ids" or "pop" parameter in the request, to be able to delete.',
      );
    }
    const claimIds = body.claim_ids === undefined || body.claim_ids === null ? undefined : strings(body, 'claim_ids');
    const fenced = flag(body, 'fenced') ?? false;
    if (pop !== undefined) {
      if (claimIds !== undefined) throw apiError('claim_ids', '"claim_ids" goes with "message_ids", not "pop".');
      const popped = await ctx.service.queues.pop(project, name, pop);
      return ok({
        messages: popped.map((m) => ({
          id: m.id,
          age: m.age,
          ttl: m.ttl,
          body: m.body,
          claim_count: m.claimCount,
          claim_id: null,
        })),
      });
    }
    const deletion = await ctx.service.queues.deleteMessages(project, name, ids as string[], claimIds);
    // As over HTTP (zaqar/api/v2/endpoints.py _delete_messages_by_id answers 204 {}), only
    // `fenced: true`, a Posthorn extension, asks which ids were deleted.
    if (fenced) return ok({ deleted: deletion.deleted, not_deleted: deletion.notDeleted });
    return ok({}, 204);
  },

  // --- claims ---------------------------------------------------------------------------------

  async claim_create(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const terms: Body = {};
    if (body.ttl !== undefined) terms.ttl = body.ttl;
    if (body.grace !== undefined) terms.grace = body.grace;
    const claim = await ctx.service.queues.claim(project, text(body, 'queue_name'), terms, integer(body, 'limit'));
    if (claim === null || claim.messages.length === 0) return ok({ claim_id: null }, 204);
    return ok({ claim_id: claim.id, messages: claim.messages.map((m) => formatMessage(m, claim.id)) }, 201);
  },

  async claim_get(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const claimId = text(body, 'claim_id');
    try {
      const claim = await ctx.service.queues.getClaim(project, text(body, 'queue_name'), claimId);
      return ok({ ttl: claim.ttl, age: claim.age, messages: claim.messages.map((m) => formatMessage(m, claim.id)) });
    } catch (error) {
      if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) {
        throw new ActionError(404, `Claim ${claimId} does not exist.`, error.message);
      }
      throw error;
    }
  },

  async claim_update(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const claimId = text(body, 'claim_id');
    const terms: Body = {};
    if (body.ttl !== undefined) terms.ttl = body.ttl;
    if (body.grace !== undefined) terms.grace = body.grace;
    try {
      await ctx.service.queues.updateClaim(project, text(body, 'queue_name'), claimId, terms);
    } catch (error) {
      if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) {
        throw new ActionError(404, `Claim ${claimId} does not exist.`, error.message);
      }
      throw error;
    }
    return ok(`Claim ${claimId} updated.`, 204);
  },

  async claim_delete(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const claimId = text(body, 'claim_id');
    await ctx.service.queues.releaseClaim(project, text(body, 'queue_name'), claimId);
    return ok(`Claim ${claimId} deleted.`, 204);
  },

  // --- pools and flavors ----------------------------------------------------------------------

  async pool_list(body, headers, ctx) {
    const page = await pools(ctx, headers).listPools(listing(body, true));
    return ok({ pools: page.pools });
  },
  async pool_create(body, headers, ctx) {
    return ok(await pools(ctx, headers).createPool(text(body, 'pool_name'), without(body, 'pool_name')), 201);
  },
  async pool_update(body, headers, ctx) {
    return ok(await pools(ctx, headers).updatePool(text(body, 'pool_name'), without(body, 'pool_name')));
  },
  async pool_get(body, headers, ctx) {
    return ok(await pools(ctx, headers).getPool(text(body, 'pool_name'), flag(body, 'detailed') === true));
  },
  async pool_delete(body, headers, ctx) {
    await pools(ctx, headers).deletePool(text(body, 'pool_name'));
    return ok({}, 204);
  },
  async flavor_list(body, headers, ctx) {
    const page = await pools(ctx, headers).listFlavors(listing(body, true));
    return ok({ flavors: page.flavors });
  },
  async flavor_create(body, headers, ctx) {
    return ok(await pools(ctx, headers).createFlavor(text(body, 'flavor_name'), flavorDocument(body)), 201);
  },
  async flavor_update(body, headers, ctx) {
    return ok(await pools(ctx, headers).updateFlavor(text(body, 'flavor_name'), flavorDocument(body)));
  },
  async flavor_get(body, headers, ctx) {
    return ok(await pools(ctx, headers).getFlavor(text(body, 'flavor_name')));
  },
  async flavor_delete(body, headers, ctx) {
    await pools(ctx, headers).deleteFlavor(text(body, 'flavor_name'));
    return ok({}, 204);
  },

  // --- subscriptions --------------------------------------------------------------------------

  async subscription_list(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const page = await ctx.service.queues.listSubscriptions(project, text(body, 'queue_name'), listing(body, false));
    return ok({ subscriptions: page.subscriptions.map(formatSubscription) });
  },

  async subscription_create(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    const own = body.subscriber === undefined || body.subscriber === null || body.subscriber === '';
    const document: Body = { subscriber: own ? ctx.socketSubscriber() : body.subscriber };
    if (body.ttl !== undefined) document.ttl = body.ttl;
    if (body.options !== undefined) document.options = body.options;
    // A socket that subscribes itself is its own confirmation.
    const result = await ctx.service.queues.subscribe(project, name, document, own ? { confirmed: true } : {});
    if (own) ctx.subscribedSocket(project, name, result.id);
    return ok({ subscription_id: result.id, message: `Subscription ${name} created.` }, 201);
  },

  async subscription_delete(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const id = text(body, 'subscription_id');
    await ctx.service.queues.unsubscribe(project, text(body, 'queue_name'), id);
    return ok(`Subscription ${id} removed.`, 204);
  },

  async subscription_get(body, headers, ctx) {
    const { project } = identity(ctx, headers);
    const name = text(body, 'queue_name');
    const id = text(body, 'subscription_id');
    try {
      const subscription = formatSubscription(await ctx.service.queues.getSubscription(project, name, id));
      const counts = ctx.service.queues.deliveryCounts(id);
      return ok(counts === null ? subscription : { ...subscription, delivery_status: counts });
    } catch (error) {
      if (error instanceof SubscriptionNotFoundError || error instanceof QueueNotFoundError) {
        throw new ActionError(404, `Subscription ${id} for queue ${name} does not exist.`, error.message);
      }
      throw error;
    }
  },
});

function flavorDocument(body: Body): Body {
  const doc = without(body, 'flavor_name', 'pool_name');
  // Zaqar's WebSocket schema names the flavor's pool `pool_name` (the v1.1 pool group).
  if (typeof body.pool_name === 'string') doc.pool_list = [body.pool_name];
  return doc;
}
