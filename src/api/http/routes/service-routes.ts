import type { QueueService } from '../../../service/index.js';
import { type ApiVersion, homeDocument } from '../home-document.js';
import { JSON_TYPE, type Router } from '../router.js';

/** A version's home document, ping and health. */
export function registerServiceRoutes(router: Router, service: QueueService, version: ApiVersion): void {
  const p = version.prefix;
  const home = homeDocument(version);

  router.add('GET', `${p}/`, { action: 'The home document could not be served.' }, async (_request, reply) =>
    reply.header('cache-control', 'max-age=86400').type('application/json-home').send(home),
  );

  router.add('GET', `${p}/ping`, { action: 'The storage could not be pinged.' }, async (_request, reply) =>
    reply.code((await service.isAlive()) ? 204 : 503).send(),
  );

  // A load balancer's probe: it asks whether this process answers, not whether storage does.
  router.add('HEAD', `${p}/ping`, { action: 'The ping could not be answered.' }, async (_request, reply) =>
    reply.code(204).send(),
  );

  router.add('GET', `${p}/health`, { action: 'Health could not be checked.' }, async (_request, reply) => {
    const report = await service.health();
    const single = report.size === 1 ? report.get('default') : undefined;
    const body = single ?? { catalog_reachable: true, ...Object.fromEntries(report) };
    return reply.type(JSON_TYPE).send(JSON.stringify(body));
  });
}
