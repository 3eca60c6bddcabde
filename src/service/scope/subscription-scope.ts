import { InvalidArgumentError, ignoreMissing, type Subscription, SubscriptionExistsError } from '../../core/index.js';
import type { DataDriver, SubscriptionPage } from '../../store/contract/index.js';
import { checkCountParameter, readConfirmation, readSubscription } from '../documents.js';
import { apiError } from '../errors.js';
import { storeProject } from '../namespaces.js';
import type { DeliveryCounts, NotificationHooks } from '../notify/hooks.js';
import type { ScopeContext } from './scope-context.js';

export interface CreatedSubscriptionResult {
  id: string;
  /** False when an unconfirmed subscription of the same subscriber was there already. */
  created: boolean;
}

/**
 * The subscriptions of a scope's queues, and what the notifier must hear of them. Subscribing
 * creates a missing queue; listing a missing queue's subscriptions gives an empty page.
 */
export class SubscriptionScope {
  constructor(private readonly ctx: ScopeContext) {}

  async list(
    project: string,
    name: string,
    query: { marker?: string; limit?: number } = {},
  ): Promise<SubscriptionPage> {
    const { ctx } = this;
    ctx.checkName(name);
    const limit = checkCountParameter(query.limit, 'limit', ctx.limits.maxSubscriptionsPerPage);
    const driver = await ctx.driver(project, name);
    try {
      return await ignoreMissing(
        driver.subscriptions.list(storeProject(ctx.kind, project), name, {
          ...(query.marker !== undefined ? { marker: query.marker } : {}),
          ...(limit !== undefined ? { limit } : {}),
        }),
        { subscriptions: [], marker: null },
      );
    } catch (error) {
      if (error instanceof InvalidArgumentError && error.field === 'marker') return { subscriptions: [], marker: null };
      throw error;
    }
  }

  /**
   * Subscribes, creating the queue when missing. Subscribing again an unconfirmed subscriber
   * gives its id back; subscribing again a confirmed one is a conflict (SubscriptionExistsError).
   */
  async create(
    project: string,
    name: string,
    document: unknown,
    how: { confirmed?: boolean } = {},
  ): Promise<CreatedSubscriptionResult> {
    const { ctx } = this;
    ctx.checkName(name);
    const sub = readSubscription(document, ctx.limits, ctx.settings.subscriberTypes, true);
    const subscriber = sub.subscriber as string;
    const notifier = ctx.settings.notifier;
    // Before anything is written: a refused subscriber creates neither queue nor subscription. A
    // socket subscribing itself names this server's own endpoint, which the server chose.
    if (how.confirmed !== true) await notifier?.checkSubscriber?.(subscriber);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const reservation = await ctx.reserve(project, { queue: name });
    await ctx.quotaBound(reservation, driver.queues.create(sp, name, {}));
    if (notifier && notifier.maxSubscriptionsPerQueue > 0) await this.checkRoom(driver, sp, name, subscriber, notifier);
    const result = await driver.subscriptions.create(sp, name, subscriber, {
      ...(sub.ttl !== undefined ? { ttl: sub.ttl } : {}),
      ...(sub.options !== undefined ? { options: sub.options } : {}),
    });
    // A subscriber that subscribes itself (a WebSocket) needs no confirmation request.
    if (how.confirmed === true) await driver.subscriptions.confirm(sp, name, result.id, true);
    if (!notifier) {
      if (!result.created) {
        const existing = await ctx.translate(name, driver.subscriptions.get(sp, name, result.id));
        if (existing.confirmed) throw new SubscriptionExistsError(name, subscriber, result.id);
      }
      return result;
    }
    const made = await ctx.translate(name, driver.subscriptions.get(sp, name, result.id));
    if (!result.created && made.confirmed && how.confirmed !== true) {
      throw new SubscriptionExistsError(name, subscriber, result.id);
    }
    if (made.confirmed) notifier.forget(ctx.kind, project, name);
    else await notifier.subscribed(ctx.kind, project, name, made);
    return result;
  }

  async get(project: string, name: string, id: string): Promise<Subscription> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    return ctx.translate(name, driver.subscriptions.get(storeProject(ctx.kind, project), name, id));
  }

  /** The subscription's notifications delivered, pending and failed; null when the service sends none. */
  deliveryCounts(id: string): DeliveryCounts | null {
    return this.ctx.settings.notifier?.counts(id) ?? null;
  }

  /** Changes a subscription's subscriber, ttl (counted from now) or options. */
  async update(project: string, name: string, id: string, document: unknown): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const notifier = ctx.settings.notifier;
    const changes = readSubscription(document, ctx.limits, ctx.settings.subscriberTypes, false);
    if (changes.subscriber !== undefined) await notifier?.checkSubscriber?.(changes.subscriber);
    const driver = await ctx.driver(project, name);
    await ctx.translate(name, driver.subscriptions.update(storeProject(ctx.kind, project), name, id, changes));
    notifier?.forget(ctx.kind, project, name);
  }

  async delete(project: string, name: string, id: string): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    await ignoreMissing(driver.subscriptions.delete(storeProject(ctx.kind, project), name, id), undefined);
    ctx.settings.notifier?.forget(ctx.kind, project, name);
    ctx.settings.notifier?.removed(id);
  }

  /** Confirms (`{"confirmed": true}`) or unconfirms a subscription. */
  async confirm(project: string, name: string, id: string, document: unknown): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const confirmed = readConfirmation(document);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    await ctx.translate(name, driver.subscriptions.confirm(sp, name, id, confirmed));
    const notifier = ctx.settings.notifier;
    if (!notifier) return;
    notifier.forget(ctx.kind, project, name);
    if (!confirmed) await notifier.unconfirmed(ctx.kind, project, name, await driver.subscriptions.get(sp, name, id));
  }

  /** Refuses a new subscriber when the queue has as many subscriptions as a queue may have. */
  private async checkRoom(
    driver: DataDriver,
    sp: string,
    name: string,
    subscriber: string,
    notifier: NotificationHooks,
  ): Promise<void> {
    const max = notifier.maxSubscriptionsPerQueue;
    let count = 0;
    let marker: string | undefined;
    for (;;) {
      const page = await driver.subscriptions.list(sp, name, {
        limit: driver.limits.maxSubscriptionsPerPage,
        ...(marker !== undefined ? { marker } : {}),
      });
      count += page.subscriptions.length;
      if (count >= max || page.subscriptions.length === 0 || page.marker === null || page.marker === marker) break;
      marker = page.marker;
    }
    if (count < max) return;
    if ((await driver.subscriptions.getBySubscriber(sp, name, subscriber)) !== null) return;
    const kind = this.ctx.kind;
    throw apiError(
      'subscriber',
      `The ${kind} ${name} has ${max} subscriptions, the most a ${kind} may have; delete one first.`,
    );
  }
}
