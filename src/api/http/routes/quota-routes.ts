import type { FastifyRequest } from 'fastify';
import { type QueueService, readQuotaDocument } from '../../../service/index.js';
import { requireJson } from '../body.js';
import { JSON_TYPE, type Router } from '../router.js';
import { adminBeforeBody } from './pool-routes.js';

interface ProjectParam {
  project: string;
}

/**
 * Per-project quotas for admins (Posthorn's own; Zaqar has none):
 *
 *   GET    /v2/quotas/{project}   -> 200 {"project", "quotas": {max_queues, max_messages, max_bytes},
 *                                        "usage": {queues, messages, bytes}}   (null: unlimited)
 *   PUT    /v2/quotas/{project}   {"max_messages": 1000, "max_bytes": null}  -> 200, the same body
 *   DELETE /v2/quotas/{project}   -> 204: back to the configuration's quotas
 *
 * A PUT sets the keys it names (null: unlimited) and leaves the others to the configuration. The
 * project is the path's, not X-Project-ID: the requests belong to no project, like pools'.
 */
export function registerQuotaRoutes(
  router: Router,
  service: QueueService,
  requireAdmin: (request: FastifyRequest) => void,
): void {
  const item = '/v2/quotas/:project';
  const admin = { identity: false } as const;
  const projectOf = (request: FastifyRequest) => service.checkProject((request.params as ProjectParam).project);

  router.add('GET', item, { action: 'The quotas could not be read.', ...admin }, async (request, reply) => {
    requireAdmin(request);
    const report = await service.quotas.report(projectOf(request));
    return reply.type(JSON_TYPE).send(JSON.stringify(report));
  });

  router.add(
    'PUT',
    item,
    { action: 'The quotas could not be set.', preParsing: adminBeforeBody(requireAdmin), ...admin },
    async (request, reply) => {
      const project = projectOf(request);
      // Checked whole before anything is changed.
      await service.quotas.set(project, readQuotaDocument(requireJson(request.body)));
      return reply.type(JSON_TYPE).send(JSON.stringify(await service.quotas.report(project)));
    },
  );

  router.add('DELETE', item, { action: 'The quotas could not be reset.', ...admin }, async (request, reply) => {
    requireAdmin(request);
    await service.quotas.reset(projectOf(request));
    return reply.code(204).send();
  });
}
