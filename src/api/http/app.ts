import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { LogThrottle } from '../../core/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  NoauthAuthenticator,
  type PoolAdministration,
  type QueueService,
} from '../../service/index.js';
import type { NotificationSpools } from '../../service/notify/index.js';
import { type ApiVersion, logFailure, V1_1, V2, versionsDocument } from '../shared/index.js';
import { readBody } from './body-reader.js';
import { ClientGoneError, handleClientError, logClientGone } from './client-errors.js';
import { registerConsoleRoutes } from './console-routes.js';
import { type CorsPolicy, registerCors } from './cors.js';
import { answerBody, httpAnswerFor } from './errors.js';
import { createRequestGuard } from './request-guard.js';
import type { RequestObserver } from './request-observer.js';
import { JSON_TYPE, type ResourceRoutes, Router } from './router.js';
import { adminCheck, privateCheck } from './routes/admin-access.js';
import { registerClaimRoutes } from './routes/claim-routes.js';
import { registerMessageRoutes } from './routes/message-routes.js';
import { registerMoveRoutes } from './routes/move-routes.js';
import { registerPoolRoutes } from './routes/pool-routes.js';
import { registerQueueRoutes } from './routes/queue-routes.js';
import { registerQuotaRoutes } from './routes/quota-routes.js';
import { registerRedriveRoutes } from './routes/redrive-routes.js';
import { registerProbeRoutes, registerServiceRoutes } from './routes/service-routes.js';
import { registerSpoolRoutes } from './routes/spool-routes.js';
import { registerSubscriptionRoutes } from './routes/subscription-routes.js';

/** The body limit of routes without one of their own: claims, subscriptions, share, purge. */
const DEFAULT_BODY_LIMIT = 65_536;

export interface HttpAppOptions {
  service: QueueService;
  /** Where errors are logged (a pino logger); silent when omitted. */
  logger?: FastifyBaseLogger;
  /** Seconds an idle keep-alive connection stays open (default 72: beyond common proxies' 60). */
  keepAliveSeconds?: number;
  /** With pooling on: the admin API for pools, flavors and queue moves (/v2/pools, /v2/flavors). */
  pooling?: PoolAdministration | null;
  /** The token admin requests carry in X-Admin-Token; without one the admin API refuses everything. */
  adminToken?: string | null;
  /** One info line per request (method, route, status, milliseconds, project); default false. */
  logRequests?: boolean;
  /** Authentication and policy (service/auth); default: noauth, no default project. */
  access?: AccessControl;
  /** HTTPS with this certificate (PEM, its chain after it) and private key; plain HTTP when absent. */
  https?: { cert: Buffer | string; key: Buffer | string } | null;
  /** Zaqar's `[cors]`: Access-Control-* answers to pages of the allowed origins; off when absent. */
  cors?: CorsPolicy | null;
  /** The notification spools' entries for the admin API (/v2/notifications/spool); none: no such routes. */
  notificationSpools?: NotificationSpools | null;
  /** Told of every answered request (the server's metrics); CORS preflights are not told. */
  requestObserver?: RequestObserver | null;
}

/** The access control of a server without an auth strategy: noauth, as before issue 13. */
export function noauthAccess(service: QueueService, adminToken: string | null): AccessControl {
  const checkProject = (value: string | undefined) => service.checkProject(value);
  return new AccessControl(
    new NoauthAuthenticator(null, checkProject),
    new AccessPolicy(),
    new AdminToken(adminToken),
    checkProject,
  );
}

/** A failure that repeats (a store that is down) is logged once a minute, with how often it came. */
const FAILURE_LOG_EVERY_MS = 60_000;

/**
 * The Zaqar v2 HTTP API (and v1.1 where the two agree) as a Fastify app over a QueueService.
 * Routes are thin: read the request, call the service, write Zaqar's JSON. Errors of every kind
 * go through one handler (errors.ts). The app is not listening yet; call `listen`.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const { service } = options;
  const limits = service.limits;
  const log = options.logger;
  const observer = options.requestObserver ?? null;
  // Fastify gets no logger: with one it makes a child logger for every request, which costs more
  // than some requests. Errors are logged by the error handler below, requests (when asked) by
  // the onResponse hook.
  const app = Fastify({
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    exposeHeadRoutes: false,
    return503OnClosing: true,
    keepAliveTimeout: (options.keepAliveSeconds ?? 72) * 1000,
    // Requests Node's parser refuses answer Zaqar's error body, not Fastify's.
    clientErrorHandler: (error, socket) => handleClientError(log, error, socket),
    // A URL Fastify cannot decode never reaches a route; answer it as Zaqar's errors look.
    frameworkErrors: (error, request, reply) => {
      const answer = httpAnswerFor(error, 'The request could not be served.');
      const raw = reply as unknown as FastifyReply;
      observer?.route(request.method, null).answered(answer.status, raw.elapsedTime / 1000, null);
      raw.code(answer.status).type(JSON_TYPE).send(answerBody(answer));
    },
  });

  // Zaqar reads every body as JSON whatever its Content-Type: take all bodies as bytes and parse
  // them in the routes, where the refusals can be Zaqar's.
  // First, so its hook answers preflights before any route (a known path's OPTIONS is otherwise a 405).
  if (options.cors) registerCors(app, options.cors);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => readBody(request, payload, done));
  // Routes set their own limit on each request; this one covers answers with no route (404).
  app.decorateRequest('bodyLimit', DEFAULT_BODY_LIMIT);
  app.decorateRequest('identity', null);
  app.decorateRequest('access', null);

  const failures = new LogThrottle(service.clock, FAILURE_LOG_EVERY_MS);
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ClientGoneError) {
      // Nobody is left to answer: one debug line, and the socket (already closed) is let go.
      logClientGone(log, request.raw.socket, { method: request.method, route: request.routeOptions.url ?? null });
      reply.raw.destroy();
      return reply;
    }
    const config = request.routeOptions.config;
    const answer = httpAnswerFor(error, config.action ?? 'The request could not be served.', config.sizeLimit);
    const route = request.routeOptions.url ?? null;
    if (answer.log && log) logFailure(log, failures, error, request.method, route);
    observer
      ?.route(request.method, route)
      .answered(answer.status, reply.elapsedTime / 1000, request.identity?.project ?? null);
    reply.code(answer.status);
    if (answer.headers) reply.headers(answer.headers);
    // Fastify closes the connection after a body it did not read; say so only then.
    return reply.type(JSON_TYPE).send(answerBody(answer));
  });

  app.setNotFoundHandler((request, reply) => {
    observer?.route(request.method, null).answered(404, reply.elapsedTime / 1000, null);
    return reply
      .code(404)
      .type(JSON_TYPE)
      .send(
        JSON.stringify({ title: 'Not found', description: `There is no resource at ${request.url.split('?')[0]}.` }),
      );
  });

  if (options.logRequests && log) {
    const requests = log;
    app.addHook('onResponse', (request, reply, done) => {
      const project = request.headers['x-project-id'];
      requests.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? null,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          project: typeof project === 'string' ? project : null,
        },
        'request',
      );
      done();
    });
  }

  const router = new Router(
    app,
    createRequestGuard(service, options.access ?? noauthAccess(service, options.adminToken ?? null)),
    DEFAULT_BODY_LIMIT,
    observer,
  );
  const versions: ApiVersion[] = [V2, V1_1];
  const versionsBody = versionsDocument(versions);
  router.add('GET', '/', { action: 'The versions could not be listed.', identity: false }, async (_request, reply) =>
    reply.code(300).type(JSON_TYPE).send(versionsBody),
  );

  registerProbeRoutes(router, service);
  const requirePrivate = privateCheck(options.adminToken ?? null);
  for (const version of versions) {
    registerServiceRoutes(router, service, version, requirePrivate);
    const kinds = version.topics ? (['queue', 'topic'] as const) : (['queue'] as const);
    for (const kind of kinds) {
      const routes: ResourceRoutes = {
        router,
        service,
        version,
        kind,
        scope: kind === 'queue' ? service.queues : service.topics,
        limits,
        collection: `${version.prefix}/${kind === 'queue' ? 'queues' : 'topics'}`,
      };
      registerQueueRoutes(routes);
      registerMessageRoutes(routes);
      if (kind === 'queue') registerClaimRoutes(routes);
      if (version.subscriptions) registerSubscriptionRoutes(routes);
    }
  }
  const requireAdmin = adminCheck(options.adminToken ?? null);
  registerQuotaRoutes(router, service, requireAdmin);
  registerRedriveRoutes(router, service);
  if (options.notificationSpools) registerSpoolRoutes(router, options.notificationSpools, requireAdmin);
  if (options.pooling) {
    registerPoolRoutes({ router, pools: options.pooling, requireAdmin });
    registerMoveRoutes(router, service, options.pooling, requireAdmin);
  }
  registerConsoleRoutes(router);
  router.finish();
  return app;
}
