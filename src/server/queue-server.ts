import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { buildHttpApp, tooManyConnectionsAnswer } from '../api/http/index.js';
import { listenWebSocket, WebSocketApi, type WebSocketListener } from '../api/ws/index.js';
import { openPooling, type Pooling, redactPoolUri } from '../pool/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  createAuthenticator,
  type DriverResolver,
  FairShare,
  MessageCipher,
  PoolAdministration,
  QueueService,
  singleDriverResolver,
  storeLimits,
} from '../service/index.js';
import { DestinationPolicy, NotificationSpools, Notifier } from '../service/notify/index.js';
import type { ServerConfig } from './config.js';
import { ConnectionLimit, defaultMaxConnections } from './connection-limit.js';
import { PosthornMetrics, type ServedMetrics, serveMetrics } from './metrics/index.js';
import { openStore } from './open-store.js';
import { serverLogger } from './server-logger.js';

/** A running `posthorn serve`, as the package's users get it (posthorn/server). */
export interface QueueServer {
  /** The HTTP API's base URL, e.g. http://127.0.0.1:8888. */
  readonly url: string;
  readonly port: number;
  /** The WebSocket API's URL, e.g. ws://127.0.0.1:9000 (also at /v2/ws on the HTTP port unless turned off). */
  readonly wsUrl: string;
  /**
   * Stops accepting connections, lets requests in flight finish, then closes the store (its
   * pending writes are fsynced and its folder lock released). Safe to call more than once.
   */
  close(): Promise<void>;
}

/** A running server with its parts, for the command and the tests that look inside. */
export interface RunningServer extends QueueServer {
  readonly app: FastifyInstance;
  readonly service: QueueService;
  /** The pool catalog, admin and mover when pooling is on. */
  readonly pooling: Pooling | null;
  /** Delivers subscription notifications; its spool is in config.notification.dir. */
  readonly notifier: Notifier;
  readonly logger: PinoLogger;
}

/**
 * Starts a server on a configuration (see loadServerConfig) in this process, logging JSON lines
 * to stdout at the configuration's log level.
 */
export function startServer(config: ServerConfig): Promise<QueueServer> {
  return startQueueServer(config);
}

/** Opens the store and serves the Zaqar API on it. Logs JSON lines (pino) to stdout. */
export async function startQueueServer(config: ServerConfig, logger?: PinoLogger): Promise<RunningServer> {
  const log = logger ?? serverLogger(config.logLevel);
  const metrics = config.metrics.enabled ? new PosthornMetrics({ maxQueues: config.metrics.maxQueues }) : null;
  // Pooling (a catalog of pools) or, as out of the box, the one embedded store.
  let pooling: Pooling | null = null;
  let resolver: DriverResolver;
  if (config.pooling) {
    pooling = await openPooling({
      settings: config.pooling,
      embedded: { store: config.store, data: config.data },
      limits: storeLimits(config.limits),
      logger: log,
      ...(metrics ? { observerFor: (pool: string) => metrics.storeObserver(pool) } : {}),
    });
    resolver = pooling.catalog;
  } else {
    resolver = singleDriverResolver(await openStore(config, log, metrics?.storeObserver('default')));
  }
  // Subscription notifications: a delivery spool in the data folder, resumed before anything is served.
  const n = config.notification;
  let publicUrls = { http: n.publicUrl, ws: null as string | null };
  let notificationBase = '';
  let notifier: Notifier;
  try {
    notifier = await Notifier.open({
      resolver,
      cipher: new MessageCipher(config.encryption),
      dir: n.dir,
      limits: config.limits,
      logger: log,
      requireConfirmation: n.requireConfirmation,
      signedUrlSecret: config.signedUrlSecret,
      publicUrls: () => publicUrls,
      webhookTimeoutMs: n.webhookTimeoutMs,
      maxConcurrentDeliveries: n.maxConcurrentDeliveries,
      maxSubscriptionsPerQueue: n.maxSubscriptionsPerQueue,
      smtp: n.smtp,
      destinations: new DestinationPolicy(n.destinations),
      // This server's sockets' own notification endpoint, which it subscribed itself.
      ownOrigins: () => (notificationBase === '' ? [] : [new URL(notificationBase).origin]),
    });
  } catch (error) {
    await (pooling ? pooling.close() : resolver.close());
    throw error;
  }
  const service = new QueueService({
    resolver,
    limits: config.limits,
    clientIds: config.clientIds,
    checksums: config.enableChecksum,
    signedUrlSecret: config.signedUrlSecret,
    subscriberTypes: config.subscriberTypes,
    messageDeleteWithClaimId: config.messageDeleteWithClaimId,
    notifier,
    encryption: config.encryption,
    quotas: config.quotas,
    fairShare: config.fairShare ? new FairShare(config.fairShare) : null,
    ...(metrics ? { counters: metrics } : {}),
  });
  const pools = pooling ? new PoolAdministration(pooling.admin, pooling.mover) : null;
  const checkProject = (value: string | undefined) => service.checkProject(value);
  const access = new AccessControl(
    createAuthenticator(config.auth, checkProject),
    new AccessPolicy(config.auth.roles),
    new AdminToken(config.adminToken),
    checkProject,
  );
  const app = buildHttpApp({
    service,
    access,
    logger: log,
    pooling: pools,
    adminToken: config.adminToken,
    logRequests: config.logRequests,
    https: config.tls,
    cors: config.cors,
    notificationSpools: new NotificationSpools(n.dir, service.clock, (level, message, fields) =>
      log[level](fields ?? {}, message),
    ),
    requestObserver: metrics,
  });
  const wsApi = new WebSocketApi({
    service,
    logger: log,
    maxFrameBytes: config.websocket.maxFrameBytes,
    pools,
    adminToken: config.adminToken,
    access,
    notificationBase: () => notificationBase,
    logRequests: config.logRequests,
    observeAction: metrics ? (action, status, seconds) => metrics.wsAnswered(action, status, seconds) : null,
  });
  if (config.websocket.httpPath) {
    app.server.on('upgrade', (request, socket, head) => {
      if ((request.url ?? '').split('?')[0] === '/v2/ws') wsApi.handleUpgrade(request, socket, head);
      else socket.destroy();
    });
  }
  const listeners: WebSocketListener[] = [];
  // One bound for both ports: their sockets share the process's file descriptors.
  const connectionLimit = new ConnectionLimit(
    config.maxConnections ?? defaultMaxConnections(),
    tooManyConnectionsAnswer(),
    log,
  );
  connectionLimit.guard(app.server);
  let servedMetrics: ServedMetrics | null = null;
  try {
    if (metrics) {
      servedMetrics = await serveMetrics(metrics, {
        app,
        service,
        access,
        pooling,
        notifier,
        gated: config.adminToken !== null || config.auth.strategy !== 'noauth',
        host: config.host,
        port: config.metrics.port,
      });
    }
    await app.listen({ host: config.host, port: config.port });
    listeners.push(await listenWs(wsApi, config, log));
    // A worker of `--workers` shares the WebSocket port; its sockets' notifications need an address
    // that reaches this very process. With TLS, this server posts its sockets' notifications to
    // itself over loopback in plain HTTP (its certificate names the public host, not 127.0.0.1),
    // on a listener that serves nothing but that endpoint.
    if (config.tls) {
      listeners.push(
        await listenWebSocket(wsApi, { host: '127.0.0.1', port: 0, exclusive: cluster.isWorker, upgrades: false }),
      );
    } else if (cluster.isWorker) {
      listeners.push(await listenWebSocket(wsApi, { host: config.host, port: 0, exclusive: true }));
    }
    for (const l of listeners) connectionLimit.guard(l.server);
  } catch (error) {
    for (const l of listeners) await l.close();
    await servedMetrics?.close();
    await app.close();
    await notifier.close();
    await service.close();
    throw error;
  }
  const ws = listeners[0] as WebSocketListener;
  const notify = listeners[listeners.length - 1] as WebSocketListener;
  notificationBase = config.websocket.notificationUrl ?? `${notify.url.replace(/^ws:/, 'http:')}/`;
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
  publicUrls = { http: n.publicUrl ?? url, ws: ws.url };
  log.info(
    {
      url,
      ws: ws.url,
      notifications: notifier.dir,
      stores: await storesInUse(config, pooling),
      maxConnections: connectionLimit.max,
      ...(config.tls ? { tls: config.tls.certFile } : {}),
      ...(servedMetrics?.url ? { metrics: `${servedMetrics.url}/metrics` } : {}),
      config: config.file,
    },
    'posthorn serving',
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    app,
    service,
    pooling,
    wsUrl: ws.url,
    notifier,
    logger: log,
    close() {
      closing ??= (async () => {
        log.info({}, 'posthorn stopping: finishing requests in flight');
        try {
          // Sockets first (their own subscriptions are deleted; an upgraded socket would keep the
          // HTTP server from closing), then HTTP; deliveries in flight finish or are left in the
          // spool for the next start; then the stores close.
          await wsApi.close();
          for (const l of listeners) await l.close();
          await servedMetrics?.close();
          await app.close();
        } finally {
          await notifier.close();
          await access.authenticator.close();
          await pooling?.mover.close(); // moves stop at a safe point and resume when started again
          await service.close();
          log.info({}, 'posthorn stopped');
        }
      })();
      return closing;
    },
  };
}

/** The WebSocket port; the default port (9000), when taken, gives way to a free one. */
async function listenWs(api: WebSocketApi, config: ServerConfig, log: PinoLogger): Promise<WebSocketListener> {
  try {
    return await listenWebSocket(api, { host: config.host, port: config.wsPort, tls: config.tls });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE' || config.websocket.portChosen) throw error;
    const listener = await listenWebSocket(api, { host: config.host, port: 0, tls: config.tls });
    log.warn(
      { wanted: config.wsPort, ws: listener.url },
      'the default WebSocket port is taken: serving WebSocket on a free port (set ws_port to choose one)',
    );
    return listener;
  }
}

/** The stores this server uses, for its first log line: the embedded one, or the catalogue and every pool. */
async function storesInUse(config: ServerConfig, pooling: Pooling | null): Promise<Record<string, string>> {
  const embedded = config.store === 'disk' ? `disk ${config.data}` : 'memory';
  if (!pooling || !config.pooling) return { default: embedded };
  const stores: Record<string, string> = {
    catalog: config.pooling.catalog === null ? `embedded (${embedded})` : redactPoolUri(config.pooling.catalog),
  };
  if (config.pooling.catalog === null) stores.default = embedded;
  try {
    for (const [name, pool] of await pooling.catalog.pools(true)) stores[name] = redactPoolUri(pool.uri);
  } catch {
    // The catalogue is down at start: name the pools the configuration gives.
    for (const pool of config.pooling.pools) stores[pool.name] = redactPoolUri(pool.uri);
  }
  return stores;
}
