import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HTTPMethods,
  onRequestHookHandler,
  preParsingAsyncHookHandler,
  RouteShorthandOptions,
} from 'fastify';
import type { Limits } from '../../core/index.js';
import type { QueueService, ResourceKind, ResourceScope } from '../../service/index.js';
import { HttpError, type SizeLimitText } from './errors.js';
import type { ApiVersion } from './home-document.js';

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

/**
 * Registers routes and remembers the methods of each path, so that `finish()` can answer other
 * methods on a known path with 405 and an Allow header (as Zaqar's framework does) instead of 404.
 * Every route but those that say `identity: false` gets the request guard as its onRequest hook
 * (a route hook, so the guard need not look up on each request whether it applies).
 */
export class Router {
  private readonly methods = new Map<string, Set<string>>();

  constructor(
    readonly app: FastifyInstance,
    private readonly guard: onRequestHookHandler,
    /** Bytes a body may have on routes that do not say (64 KiB: claims, subscriptions, share...). */
    private readonly defaultBodyLimit: number,
  ) {}

  /** The route's onRequest hook: its body limit for the body reader, then the guard. */
  private onRequest(limit: number, guarded: boolean): onRequestHookHandler {
    const guard = this.guard;
    if (!guarded) {
      return function setLimit(request, _reply, done) {
        request.bodyLimit = limit;
        done();
      };
    }
    return function setLimitAndGuard(request, reply, done) {
      request.bodyLimit = limit;
      guard.call(this, request, reply, done);
    };
  }

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
      onRequest: this.onRequest(options.bodyLimit ?? this.defaultBodyLimit, options.identity !== false),
      ...(options.preParsing ? { preParsing: options.preParsing } : {}),
    };
    this.app.route({ method, url, ...routeOptions, handler });
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
        onRequest: this.onRequest(this.defaultBodyLimit, false),
        handler: async () => {
          throw new HttpError(405, 'Method not allowed', `This resource allows ${allow}.`, { allow });
        },
      });
    }
  }
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
