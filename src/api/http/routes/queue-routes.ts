import { TITLES } from '../../../service/index.js';
import { HttpError } from '../../shared/index.js';
import { readJson, requireJson } from '../body.js';
import { boolParam, intParam, type Query, queryString, stringParam } from '../query.js';
import { queueListJson, signedUrlJson, statsJson } from '../render.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, pathOf, type ResourceRoutes } from '../router.js';

/** The media type Zaqar takes queue metadata patches in (JSON Patch, draft 10). */
export const PATCH_MEDIA_TYPE = 'application/openstack-messaging-v2.0-json-patch';

const LIST_PARAMS = new Set(['marker', 'limit', 'detailed', 'name', 'with_count']);
const INTEGER = /^\s*[+-]?\d+\s*$/;

/** Any other query parameter of a queue listing filters on metadata; integers compare as integers. */
function metadataFilter(query: Query): Record<string, unknown> | undefined {
  let filter: Record<string, unknown> | undefined;
  for (const key of Object.keys(query)) {
    if (LIST_PARAMS.has(key)) continue;
    const value = stringParam(query, key);
    if (value === undefined) continue;
    filter ??= {};
    filter[key] = INTEGER.test(value) ? Number(value) : value;
  }
  return filter;
}

/** Queues (or topics): list, create, metadata, delete, stats, purge, and for v2 queues, share. */
export function registerQueueRoutes(r: ResourceRoutes): void {
  const { router, scope, collection, limits, version } = r;
  const noun = r.kind === 'queue' ? 'Queue' : 'Topic';
  const plural = r.kind === 'queue' ? 'queues' : 'topics';
  const item = `${collection}/:name`;
  const showDefaults = version.v2Queues;

  router.add('GET', collection, { action: `${noun}s could not be listed.` }, async (request, reply) => {
    const { project } = identityOf(request);
    const query = request.query as Query;
    const marker = stringParam(query, 'marker');
    const limit = intParam(query, 'limit');
    const detailed = boolParam(query, 'detailed');
    const name = stringParam(query, 'name');
    const withCount = boolParam(query, 'with_count');
    const filter = metadataFilter(query);
    const page = await scope.list(project, {
      ...(marker !== undefined ? { marker } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(detailed !== undefined ? { detailed } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(withCount !== undefined ? { withCount } : {}),
      ...(filter !== undefined ? { filter } : {}),
    });
    const nextMarker = page.marker ?? marker ?? '';
    const next =
      page.queues.length === 0
        ? null
        : collection +
          queryString([
            ['marker', nextMarker],
            ['limit', limit],
            ['detailed', detailed],
            ['name', name],
            ...Object.entries(filter ?? {}).map(([k, v]) => [k, String(v)] as const),
          ]);
    return reply.type(JSON_TYPE).send(queueListJson(page, collection, plural, next));
  });

  router.add(
    'PUT',
    item,
    {
      action: `${noun} could not be created.`,
      bodyLimit: limits.maxQueueMetadataSize,
      sizeLimit: {
        title: TITLES.api,
        description: `${noun} metadata is too large: at most ${limits.maxQueueMetadataSize} bytes.`,
      },
    },
    async (request, reply) => {
      const { project } = identityOf(request);
      const created = await scope.create(project, paramsOf(request).name, readJson(request.body));
      return reply
        .code(created ? 201 : 204)
        .header('location', pathOf(request))
        .send();
    },
  );

  router.add('GET', item, { action: `${noun} metadata could not be retrieved.` }, async (request, reply) => {
    const { project } = identityOf(request);
    const metadata = await scope.get(project, paramsOf(request).name, showDefaults);
    return reply.type(JSON_TYPE).send(JSON.stringify(metadata));
  });

  router.add('DELETE', item, { action: `${noun} could not be deleted.` }, async (request, reply) => {
    const { project } = identityOf(request);
    await scope.delete(project, paramsOf(request).name);
    return reply.code(204).send();
  });

  router.add('GET', `${item}/stats`, { action: `${noun} stats could not be read.` }, async (request, reply) => {
    const { project } = identityOf(request);
    const name = paramsOf(request).name;
    const stats = await scope.stats(project, name);
    return reply.type(JSON_TYPE).send(statsJson(stats, `${collection}/${name}`));
  });

  if (!version.v2Queues) return;

  router.add(
    'PATCH',
    item,
    {
      action: `${noun} could not be updated.`,
      bodyLimit: limits.maxQueueMetadataSize,
      sizeLimit: {
        title: TITLES.body,
        description: `${noun} metadata is too large: at most ${limits.maxQueueMetadataSize} bytes.`,
      },
    },
    async (request, reply) => {
      const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
      if (contentType !== PATCH_MEDIA_TYPE) {
        throw new HttpError(415, 'Unsupported media type', `Accepted media type for PATCH: ${PATCH_MEDIA_TYPE}.`, {
          'accept-patch': PATCH_MEDIA_TYPE,
        });
      }
      const { project } = identityOf(request);
      const metadata = await scope.patch(project, paramsOf(request).name, requireJson(request.body));
      return reply.type(JSON_TYPE).send(JSON.stringify(metadata));
    },
  );

  router.add('POST', `${item}/purge`, { action: `${noun} could not be purged.` }, async (request, reply) => {
    const { project } = identityOf(request);
    await scope.purge(project, paramsOf(request).name, readJson(request.body));
    return reply.code(204).send();
  });

  if (r.kind !== 'queue') return;

  router.add('POST', `${item}/share`, { action: 'The URL could not be signed.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const name = paramsOf(request).name;
    const signed = r.service.share(project, name, `${collection}/${name}`, requireJson(request.body));
    return reply.type(JSON_TYPE).send(signedUrlJson(signed));
  });
}
