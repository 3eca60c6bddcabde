import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { type ClientAuth, type RequestAuth, requestAuth } from './auth.js';
import { HttpTransport, type RetryOptions } from './http-transport.js';
import { QueueHandle } from './queue-handle.js';
import type { HandleContext } from './resource-handle.js';
import { TopicHandle } from './topic-handle.js';
import type { ListQueuesOptions, QueuePageInfo, QueueSummary } from './types.js';
import { nextMarker, query, queueSummaryFrom } from './wire.js';
import { type WsSubscribeOptions, WsSubscription } from './ws-subscription.js';

export interface ClientOptions {
  /** The server's HTTP base URL, e.g. http://127.0.0.1:8888. */
  url: string;
  /**
   * The project (X-Project-Id). Needed under noauth; with a token it may be left out (the
   * credential names the project) or name another one (admins only).
   */
  project?: string;
  /** Zaqar's Client-ID (a UUID); a random one when omitted. Messages this client posts are its own for `echo`. */
  clientId?: string;
  auth?: ClientAuth;
  /** Sent as X-Admin-Token: the server's admin API and its private routes (health). */
  adminToken?: string;
  retry?: RetryOptions;
  /**
   * The WebSocket API's URL. Default: `/v2/ws` on the HTTP origin, where Posthorn serves it too
   * (whatever its `ws_port`); an OpenStack Zaqar serves it only on its own port (9000):
   * `ws://host:9000`.
   */
  wsUrl?: string;
  /** Keep-alive connections per origin (default 32). */
  connections?: number;
}

/** The client of a Posthorn (or any Zaqar v2) server. Close it to end its keep-alive connections. */
export class PosthornClient {
  readonly clientId: string;
  readonly project: string | undefined;
  /** The HTTP layer: retries made so far are `transport.retriesMade`. */
  readonly transport: HttpTransport;
  private readonly auth: RequestAuth;
  private readonly agent: Agent;
  private readonly context: HandleContext;
  private readonly wsUrl: string;
  private readonly sockets = new Set<WsSubscription>();

  constructor(options: ClientOptions) {
    this.clientId = options.clientId ?? randomUUID();
    this.project = options.project;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: options.connections ?? 32 });
    this.auth = requestAuth(options.auth, options.project, this.agent);
    this.transport = new HttpTransport({
      url: options.url,
      clientId: this.clientId,
      auth: this.auth,
      dispatcher: this.agent,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.adminToken === undefined ? {} : { adminToken: options.adminToken }),
    });
    this.context = { transport: this.transport, project: options.project ?? '' };
    const base = new URL(options.url);
    this.wsUrl = options.wsUrl ?? `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}/v2/ws`;
  }

  /** A handle on a queue; asks nothing of the server until it is used. */
  queue(name: string): QueueHandle {
    return new QueueHandle(this.context, name, (other) => this.queue(other));
  }

  /** A handle on a topic (Zaqar v2 topics: messages fanned out to subscribers). */
  topic(name: string): TopicHandle {
    return new TopicHandle(this.context, name);
  }

  /** Creates a queue (true) or leaves an existing one as it is (false). */
  createQueue(name: string, metadata: Record<string, unknown> = {}): Promise<boolean> {
    return this.queue(name).create(metadata);
  }

  deleteQueue(name: string): Promise<void> {
    return this.queue(name).delete();
  }

  listQueues(options: ListQueuesOptions = {}): Promise<QueuePageInfo> {
    return this.listCollection('queues', options);
  }

  listTopics(options: ListQueuesOptions = {}): Promise<QueuePageInfo> {
    return this.listCollection('topics', options);
  }

  /** Every queue of the project, page after page. */
  async *queues(options: ListQueuesOptions = {}): AsyncGenerator<QueueSummary, void, undefined> {
    let marker = options.marker;
    for (;;) {
      const page = await this.listQueues({ ...options, ...(marker === undefined ? {} : { marker }) });
      yield* page.queues;
      if (page.marker === null || page.queues.length === 0) return;
      marker = page.marker;
    }
  }

  private async listCollection(collection: 'queues' | 'topics', options: ListQueuesOptions): Promise<QueuePageInfo> {
    const answer = await this.transport.request({
      method: 'GET',
      path: `/v2/${collection}${query({
        marker: options.marker,
        limit: options.limit,
        detailed: options.detailed,
        name: options.name,
        with_count: options.withCount,
      })}`,
      route: { project: this.context.project },
    });
    const doc = (answer.json ?? {}) as Record<string, unknown>;
    const list = doc[collection];
    const queues = Array.isArray(list) ? list.map((q) => queueSummaryFrom(q as Record<string, unknown>)) : [];
    const page: QueuePageInfo = { queues, marker: queues.length === 0 ? null : nextMarker(doc) };
    if (typeof doc.count === 'number') page.count = doc.count;
    return page;
  }

  /** True when the server's storage answers (Zaqar's GET /v2/ping: 204, or 503). */
  async ping(): Promise<boolean> {
    const answer = await this.transport.request({
      method: 'GET',
      path: '/v2/ping',
      route: { project: this.context.project },
      accept: [503],
    });
    return answer.status === 204;
  }

  /** The server's health report (a private route: needs `adminToken`, or an admin credential). */
  async health(): Promise<Record<string, unknown>> {
    const answer = await this.transport.request({
      method: 'GET',
      path: '/v2/health',
      route: { project: this.context.project },
    });
    return (answer.json ?? {}) as Record<string, unknown>;
  }

  /** The API's home document (JSON Home). */
  async homeDocument(): Promise<Record<string, unknown>> {
    const answer = await this.transport.request({
      method: 'GET',
      path: '/v2/',
      route: { project: this.context.project },
    });
    return (answer.json ?? {}) as Record<string, unknown>;
  }

  /**
   * Subscribes this client to a queue over the WebSocket API; iterate the answer for the
   * messages posted to it from then on. Leaving the loop closes the socket.
   */
  async subscribe(queue: string, options: WsSubscribeOptions = {}): Promise<WsSubscription> {
    const subscription = await WsSubscription.open({
      wsUrl: this.wsUrl,
      queue,
      clientId: this.clientId,
      auth: this.auth,
      options,
    });
    this.sockets.add(subscription);
    return subscription;
  }

  /** Closes WebSocket subscriptions and the keep-alive connections. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.close();
    this.sockets.clear();
    await this.agent.close();
  }
}

/** A client of the server at `options.url`. */
export function createClient(options: ClientOptions): PosthornClient {
  return new PosthornClient(options);
}
