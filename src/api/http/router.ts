import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HTTPMethods,
  preParsingAsyncHookHandler,
  RouteShorthandOptions,
} from 'fastify';
import type { Limits } from '../../core/index.js';
import type { QueueService, ResourceKind, ResourceScope } from '../../service/index.js';
import { type ApiVersion, HttpError } from '../shared/index.js';
import type { SizeLimitText } from './errors.js';
import type { GuardedRoute } from './request-guard.js';
import type { RequestObserver } from './request-observer.js';
import { routeAction } from './route-access.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route does, as the sentence of a 503: "Messages could not be posted." */
    action?: string;
    /** The refusal of a body over the route's limit. */
    sizeLimit?: SizeLimitText;
  }
}

export const JSON_TYPE = 'application/json; charset=UTF-8';

export type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface RouteOptions {
  action: string;
  bodyLimit?: number;
  sizeLimit?: SizeLimitText;
  identity?: boolean;
  preParsing?: preParsingAsyncHookHandler;
}

const ALL_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const WITH_BODY = new Set<HTTPMethods>(['POST', 'PUT', 'PATCH']);

/**
 * Registers routes and remembers the methods of each path, so that `finish()` can answer other
 * methods on a known path with 405 and an Allow header (as Zaqar's framework does) instead of 404.
 *
 * Every route but those that say `identity: false` runs the request guard. Routes that take a
 * body run it in their preParsing hook, so a refused request is refused before its body is read
 * (and the hook tells the body reader the route's limit); routes without a body run it at the
 * start of the handler, which spares them a hook phase on the hot paths (DELETE of a message).
 */
export class Router {
  private readonly methods = new Map<string, Set<string>>();

  constructor(
    readonly app: FastifyInstance,
    private readonly guard: (request: FastifyRequest, route: GuardedRoute) => Promise<void>,
    /** Bytes a body may have on routes that do not say (64 KiB: claims, subscriptions, share...). */
    private readonly defaultBodyLimit: number,
    /** Told of every request a route answers; a failed one is told by the app's error handler. */
    private readonly observer: RequestObserver | null = null,
  ) {}

  add(method: HTTPMethods, url: string, options: RouteOptions, handler: Handler): void {
    let known = this.methods.get(url);
    if (!known) {
      known = new Set();
      this.methods.set(url, known);
    }
    known.add(method);
    const routeOptions: RouteShorthandOptions = {
      config: {
        action: options.action,
        ...(options.sizeLimit ? { sizeLimit: options.sizeLimit } : {}),
      },
    };
    // The policy action of the route (route-access.ts); a route in a project must have one.
    const action = routeAction(method, url);
    if (action === undefined && options.identity !== false) throw new Error(`${method} ${url} has no policy action`);
    const route: GuardedRoute | null = action === undefined ? null : { action, identity: options.identity !== false };
    const check = this.guard;
    const guard = route === null ? null : (request: FastifyRequest) => check(request, route);
    let routeHandler = handler;
    if (WITH_BODY.has(method)) {
      const limit = options.bodyLimit ?? this.defaultBodyLimit;
      const own = options.preParsing;
      routeOptions.preParsing = async function beforeBody(request, reply, payload) {
        request.bodyLimit = limit;
        await guard?.(request);
        return own ? own.call(this, request, reply, payload) : payload;
      };
    } else if (guard) {
      routeHandler = async (request, reply) => {
        await guard(request);
        return handler(request, reply);
      };
    }
    if (this.observer) routeHandler = counted(routeHandler, this.observer, method, url);
    this.app.route({ method, url, ...routeOptions, handler: routeHandler });
  }

  /** Adds the 405 answers; call after every route is added. */
  finish(): void {
    for (const [url, known] of this.methods) {
      const others = ALL_METHODS.filter((m) => !known.has(m));
      if (others.length === 0) continue;
      const allow = [...known].sort().join(', ');
      this.app.route({
        method: others,
        url,
        config: { action: 'The request could not be served.' },
        handler: async () => {
          throw new HttpError(405, 'Method not allowed', `This resource allows ${allow}.`, { allow });
        },
      });
    }
  }
}

/**
 * The handler, telling the route's counter of each answer it gives. A handler that throws is
 * counted by the error handler instead, which answers for it.
 */
function counted(handler: Handler, observer: RequestObserver, method: string, url: string): Handler {
  const counter = observer.route(method, url);
  return async (request, reply) => {
    const result = await handler(request, reply);
    counter.answered(reply.statusCode, reply.elapsedTime / 1000, request.identity?.project ?? null);
    return result;
  };
}

/** What the routes of one resource kind under one API version share. */
export interface ResourceRoutes {
  router: Router;
  service: QueueService;
  version: ApiVersion;
  kind: ResourceKind;
  scope: ResourceScope;
  limits: Limits;
  /** `/v2/queues` or `/v2/topics`. */
  collection: string;
}

/** The route parameters every resource route has. */
export interface NameParams {
  name: string;
  id?: string;
}

export function paramsOf(request: FastifyRequest): NameParams {
  return request.params as NameParams;
}

/** The request path without its query string. */
export function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
