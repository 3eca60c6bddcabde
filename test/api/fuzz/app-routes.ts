/**
 * The routes an app really has, taken from the app rather than from a list kept by hand: every
 * route the Router adds (recorded while the app is built), checked against Fastify's own route
 * table so a route registered around the Router is noticed too. The Router's 405 answers for other
 * methods are not routes of their own; the fuzzer's noise requests reach them.
 */
import type { FastifyInstance } from 'fastify';
import { Router } from '../../../src/api/http/router.js';

export interface AppRoute {
  method: string;
  url: string;
}

/** Builds apps while recording the routes their Routers add. */
export async function recordRoutes<T>(build: () => Promise<T>): Promise<{ built: T; routes: AppRoute[] }> {
  const routes: AppRoute[] = [];
  const add = Router.prototype.add;
  Router.prototype.add = function recordingAdd(this: Router, method, url, options, handler) {
    routes.push({ method, url });
    return add.call(this, method, url, options, handler);
  };
  try {
    return { built: await build(), routes };
  } finally {
    Router.prototype.add = add;
  }
}

/** Every path in Fastify's route table (from printRoutes' tree). */
export function fastifyPaths(app: FastifyInstance): string[] {
  const paths: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)(?:├── |└── )(\S+) \(/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    // The root is "/" and its children lack their slash ("healthz", "v2"): joining gives the path.
    paths.push(stack.join(''));
  }
  return paths;
}
