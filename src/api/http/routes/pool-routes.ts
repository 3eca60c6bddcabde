import type { FastifyRequest, preParsingAsyncHookHandler } from 'fastify';
import type { FlavorView, PageQuery, PoolAdministration, PoolView } from '../../../service/index.js';
import { readJson, requireJson } from '../body.js';
import { boolParam, intParam, type Query, queryString, stringParam } from '../query.js';
import { JSON_TYPE, type Router } from '../router.js';

/** What the admin routes need: the pool administration and the admin check. */
export interface AdminRoutes {
  router: Router;
  pools: PoolAdministration;
  requireAdmin: (request: FastifyRequest) => void;
}

/** Runs the admin check before a body is read. */
export function adminBeforeBody(requireAdmin: (request: FastifyRequest) => void): preParsingAsyncHookHandler {
  return async (request, _reply, payload) => {
    requireAdmin(request);
    return payload;
  };
}

interface NameParam {
  name: string;
}

/**
 * Zaqar's admin resources for pooling (v2_0/pools.py, flavors.py): /v2/pools and /v2/flavors with
 * their shapes and codes — PUT 201 (409 when it exists, 400 when the URI cannot be reached or the
 * capabilities do not match), GET 200/404, PATCH 200, DELETE 204 (403 for a pool a flavor uses),
 * listings with marker, limit and detailed. Admin requests only (admin-access.ts); they need no
 * Client-ID or project, as pools and flavors belong to no project.
 */
export function registerPoolRoutes({ router, pools: admin, requireAdmin }: AdminRoutes): void {
  const before = adminBeforeBody(requireAdmin);
  const admin_ = { identity: false } as const;

  router.add('GET', '/v2/pools', { action: 'Pools could not be listed.', ...admin_ }, async (request, reply) => {
    requireAdmin(request);
    const query = pageQuery(request.query as Query);
    const page = await admin.listPools(query);
    const pools = page.pools.map((p) => withHref(p, `/v2/pools/${p.name}`));
    const links = nextLinks('/v2/pools', pools.length, page.marker, query);
    return reply.type(JSON_TYPE).send(JSON.stringify({ pools, links }));
  });

  router.add('GET', '/v2/pools/:name', { action: 'The pool could not be read.', ...admin_ }, async (request, reply) => {
    requireAdmin(request);
    const { name } = request.params as NameParam;
    const pool = await admin.getPool(name, boolParam(request.query as Query, 'detailed') === true);
    return reply.type(JSON_TYPE).send(JSON.stringify(withHref(pool, `/v2/pools/${name}`)));
  });

  router.add(
    'PUT',
    '/v2/pools/:name',
    { action: 'The pool could not be created.', preParsing: before, ...admin_ },
    async (request, reply) => {
      const { name } = request.params as NameParam;
      await admin.createPool(name, requireJson(request.body));
      return reply.code(201).header('location', `/v2/pools/${name}`).send();
    },
  );

  router.add(
    'PATCH',
    '/v2/pools/:name',
    { action: 'The pool could not be updated.', preParsing: before, ...admin_ },
    async (request, reply) => {
      const { name } = request.params as NameParam;
      const pool = await admin.updatePool(name, requireJson(request.body));
      return reply.type(JSON_TYPE).send(JSON.stringify(withHref(pool, `/v2/pools/${name}`)));
    },
  );

  router.add(
    'DELETE',
    '/v2/pools/:name',
    { action: 'The pool could not be deleted.', ...admin_ },
    async (request, reply) => {
      requireAdmin(request);
      await admin.deletePool((request.params as NameParam).name);
      return reply.code(204).send();
    },
  );

  router.add('GET', '/v2/flavors', { action: 'Flavors could not be listed.', ...admin_ }, async (request, reply) => {
    requireAdmin(request);
    const query = pageQuery(request.query as Query);
    const page = await admin.listFlavors(query);
    const flavors = page.flavors.map((f) => withHref(f, `/v2/flavors/${f.name}`));
    const links = nextLinks('/v2/flavors', flavors.length, page.marker, query);
    return reply.type(JSON_TYPE).send(JSON.stringify({ flavors, links }));
  });

  router.add(
    'GET',
    '/v2/flavors/:name',
    { action: 'The flavor could not be read.', ...admin_ },
    async (request, reply) => {
      requireAdmin(request);
      const { name } = request.params as NameParam;
      return reply.type(JSON_TYPE).send(JSON.stringify(withHref(await admin.getFlavor(name), `/v2/flavors/${name}`)));
    },
  );

  router.add(
    'PUT',
    '/v2/flavors/:name',
    { action: 'The flavor could not be created.', preParsing: before, ...admin_ },
    async (request, reply) => {
      const { name } = request.params as NameParam;
      await admin.createFlavor(name, requireJson(request.body));
      return reply.code(201).header('location', `/v2/flavors/${name}`).send();
    },
  );

  router.add(
    'PATCH',
    '/v2/flavors/:name',
    { action: 'The flavor could not be updated.', preParsing: before, ...admin_ },
    async (request, reply) => {
      const { name } = request.params as NameParam;
      const flavor = await admin.updateFlavor(name, readJson(request.body) ?? {});
      return reply.type(JSON_TYPE).send(JSON.stringify(withHref(flavor, `/v2/flavors/${name}`)));
    },
  );

  router.add(
    'DELETE',
    '/v2/flavors/:name',
    { action: 'The flavor could not be deleted.', ...admin_ },
    async (request, reply) => {
      requireAdmin(request);
      await admin.deleteFlavor((request.params as NameParam).name);
      return reply.code(204).send();
    },
  );
}

/** Zaqar's pool and flavor listings read the same query: marker, limit, detailed. */
function pageQuery(query: Query): PageQuery {
  const marker = stringParam(query, 'marker');
  const limit = intParam(query, 'limit');
  const detailed = boolParam(query, 'detailed');
  return {
    ...(marker !== undefined ? { marker } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(detailed !== undefined ? { detailed } : {}),
  };
}

/** The `next` link of a pool or flavor listing: none for an empty page, else the query from the page's marker. */
function nextLinks(
  path: string,
  count: number,
  marker: string | null,
  query: PageQuery,
): { rel: string; href: string }[] {
  if (count === 0) return [];
  const next = queryString([
    ['marker', marker ?? query.marker],
    ['limit', query.limit],
    ['detailed', query.detailed],
  ]);
  return [{ rel: 'next', href: `${path}${next}` }];
}

function withHref<T extends PoolView | FlavorView>(view: T, href: string): T & { href: string } {
  return { ...view, href };
}
