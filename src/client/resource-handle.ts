import type { RouteContext } from './error-mapping.js';
import type { HttpTransport } from './http-transport.js';
import type {
  ListMessagesOptions,
  MessagePage,
  MetadataPatchOperation,
  PoppedMessage,
  PostMessage,
  PostOptions,
  PurgeResource,
  QueueMessage,
  QueueStatsInfo,
  SubscribeOptions,
  SubscriptionInfo,
  SubscriptionPage,
  SubscriptionUpdate,
} from './types.js';
import {
  lastSegment,
  messageFrom,
  messagesFrom,
  nextMarker,
  poppedFrom,
  query,
  seg,
  statsFrom,
  subscriptionFrom,
} from './wire.js';

/** The media type of Zaqar's metadata patches (JSON Patch). */
export const PATCH_MEDIA_TYPE = 'application/openstack-messaging-v2.0-json-patch';

/** What a handle knows of its client. */
export interface HandleContext {
  transport: HttpTransport;
  /** The project named in routes' errors (the client's, or '' when the credential decides). */
  project: string;
}

/**
 * What queues and topics share in Zaqar v2: their metadata, messages (post, list, get, delete,
 * pop), stats, purge and subscriptions. `QueueHandle` adds claims and pre-signed URLs, which
 * topics do not have.
 */
export abstract class ResourceHandle {
  protected readonly base: string;

  constructor(
    protected readonly context: HandleContext,
    protected readonly collection: 'queues' | 'topics',
    readonly name: string,
  ) {
    this.base = `/v2/${collection}/${seg(name)}`;
  }

  protected route(extra: Omit<RouteContext, 'project' | 'queue'> = {}): RouteContext {
    return { project: this.context.project, queue: this.name, ...extra };
  }

  protected get http(): HttpTransport {
    return this.context.transport;
  }

  /** Creates it (true) or leaves it as it is (false: it existed). */
  async create(metadata: Record<string, unknown> = {}): Promise<boolean> {
    const answer = await this.http.request({ method: 'PUT', path: this.base, body: metadata, route: this.route() });
    return answer.status === 201;
  }

  /** Deletes it with its messages; no error when it does not exist (Zaqar's 204). */
  async delete(): Promise<void> {
    await this.http.request({ method: 'DELETE', path: this.base, route: this.route() });
  }

  /** Its metadata document (reserved keys such as `_dead_letter_queue` included). */
  async metadata(): Promise<Record<string, unknown>> {
    const answer = await this.http.request({ method: 'GET', path: this.base, route: this.route() });
    return (answer.json ?? {}) as Record<string, unknown>;
  }

  /** Applies a JSON Patch to the metadata; answers the metadata after it. */
  async patchMetadata(operations: MetadataPatchOperation[]): Promise<Record<string, unknown>> {
    const answer = await this.http.request({
      method: 'PATCH',
      path: this.base,
      body: operations,
      contentType: PATCH_MEDIA_TYPE,
      route: this.route(),
    });
    return (answer.json ?? {}) as Record<string, unknown>;
  }

  /** Sets metadata keys (a patch of `add` operations: other keys stay). */
  setMetadata(values: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.patchMetadata(
      Object.entries(values).map(([key, value]) => ({ op: 'add', path: `/metadata/${key}`, value })),
    );
  }

  async stats(): Promise<QueueStatsInfo> {
    const answer = await this.http.request({ method: 'GET', path: `${this.base}/stats`, route: this.route() });
    return statsFrom(answer.json);
  }

  /** Removes its messages, its subscriptions, or (by default) both. */
  async purge(resourceTypes?: PurgeResource[]): Promise<void> {
    await this.http.request({
      method: 'POST',
      path: `${this.base}/purge`,
      body: resourceTypes === undefined ? {} : { resource_types: resourceTypes },
      route: this.route(),
      idempotent: true,
    });
  }

  // --- messages ---------------------------------------------------------------------------------

  /** Posts messages; answers their ids in order. With `idempotencyKey` the post is retried safely. */
  async post(messages: PostMessage[], options: PostOptions = {}): Promise<string[]> {
    const answer = await this.http.request({
      method: 'POST',
      path: `${this.base}/messages`,
      body: { messages },
      ...(options.idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': options.idempotencyKey } }),
      route:
        options.idempotencyKey === undefined
          ? this.route()
          : { ...this.route(), idempotencyKey: options.idempotencyKey },
    });
    const resources = (answer.json as { resources?: unknown } | undefined)?.resources;
    return Array.isArray(resources) ? resources.map((href) => lastSegment(String(href))) : [];
  }

  /** One page of messages. */
  async list(options: ListMessagesOptions = {}): Promise<MessagePage> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/messages${query({
        marker: options.marker,
        limit: options.limit,
        echo: options.echo,
        include_claimed: options.includeClaimed,
        include_delayed: options.includeDelayed,
      })}`,
      route: this.route(),
    });
    const messages = messagesFrom(answer.json);
    return { messages, marker: messages.length === 0 ? null : nextMarker(answer.json) };
  }

  /** Every message from `options.marker` on, page by page, following the server's markers. */
  async *messages(options: ListMessagesOptions = {}): AsyncGenerator<QueueMessage, void, undefined> {
    let marker = options.marker;
    for (;;) {
      const page = await this.list({ ...options, ...(marker === undefined ? {} : { marker }) });
      yield* page.messages;
      if (page.marker === null || page.messages.length === 0) return;
      marker = page.marker;
    }
  }

  async get(id: string): Promise<QueueMessage> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/messages/${seg(id)}`,
      route: this.route({ messageId: id }),
    });
    return messageFrom(answer.json as Record<string, unknown>);
  }

  /** The messages of these ids that exist (none found: an empty list, not an error). */
  async getMany(ids: string[]): Promise<QueueMessage[]> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/messages${query({ ids: ids.join(',') })}`,
      route: this.route(),
      accept: [404],
    });
    return answer.status === 404 ? [] : messagesFrom(answer.json);
  }

  /**
   * Deletes a message; with `claimId`, only while that claim holds it (else MessageNotClaimedError,
   * MessageNotClaimedByError or ClaimNotFoundError). Without, a claimed one is refused (MessageClaimedError).
   */
  async deleteMessage(id: string, claimId?: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `${this.base}/messages/${seg(id)}${query({ claim_id: claimId })}`,
      route: this.route({ messageId: id, ...(claimId === undefined ? {} : { claimId }) }),
    });
  }

  async deleteMany(ids: string[]): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `${this.base}/messages${query({ ids: ids.join(',') })}`,
      route: this.route(),
    });
  }

  /** Takes up to `count` free messages off the queue and answers them. Not retried: a pop is not idempotent. */
  async pop(count: number): Promise<PoppedMessage[]> {
    const answer = await this.http.request({
      method: 'DELETE',
      path: `${this.base}/messages${query({ pop: count })}`,
      route: this.route(),
      idempotent: false,
    });
    const list = (answer.json as { messages?: unknown } | undefined)?.messages;
    return Array.isArray(list) ? list.map((m) => poppedFrom(m as Record<string, unknown>)) : [];
  }

  // --- subscriptions ----------------------------------------------------------------------------

  /** Subscribes; answers the subscription's id. */
  async subscribe(options: SubscribeOptions): Promise<string> {
    const answer = await this.http.request({
      method: 'POST',
      path: `${this.base}/subscriptions`,
      body: options,
      route: this.route(),
    });
    return String((answer.json as { subscription_id?: unknown }).subscription_id);
  }

  async listSubscriptions(options: { limit?: number; marker?: string } = {}): Promise<SubscriptionPage> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/subscriptions${query({ marker: options.marker, limit: options.limit })}`,
      route: this.route(),
    });
    const list = (answer.json as { subscriptions?: unknown } | undefined)?.subscriptions;
    const subscriptions = Array.isArray(list) ? list.map((s) => subscriptionFrom(s as Record<string, unknown>)) : [];
    return { subscriptions, marker: subscriptions.length === 0 ? null : nextMarker(answer.json) };
  }

  async getSubscription(id: string): Promise<SubscriptionInfo> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/subscriptions/${seg(id)}`,
      route: this.route({ subscriptionId: id }),
    });
    return subscriptionFrom(answer.json as Record<string, unknown>);
  }

  async updateSubscription(id: string, update: SubscriptionUpdate): Promise<void> {
    await this.http.request({
      method: 'PATCH',
      path: `${this.base}/subscriptions/${seg(id)}`,
      body: update,
      route: this.route({ subscriptionId: id }),
    });
  }

  async unsubscribe(id: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `${this.base}/subscriptions/${seg(id)}`,
      route: this.route({ subscriptionId: id }),
    });
  }

  /** Confirms (or, with false, unconfirms) a subscription that the server asked to be confirmed. */
  async confirmSubscription(id: string, confirmed = true): Promise<void> {
    await this.http.request({
      method: 'PUT',
      path: `${this.base}/subscriptions/${seg(id)}/confirm`,
      body: { confirmed },
      route: this.route({ subscriptionId: id }),
    });
  }
}
