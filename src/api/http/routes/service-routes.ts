import type { FastifyRequest } from 'fastify';
import type { QueueService } from '../../../service/index.js';
import { type ApiVersion, homeDocument, UNAVAILABLE_TITLE } from '../../shared/index.js';
import { JSON_TYPE, type Router } from '../router.js';

/**
 * The probes of load balancers and orchestrators, outside Zaqar's API and without its headers:
 * `/healthz` answers while the process serves; `/readyz` answers 200 only while every store
 * (every pool, with pooling) answers, and names the ones that do not — and those whose disk is full
 * (they answer reads, but refuse posts until space is freed).
 */
export function registerProbeRoutes(router: Router, service: QueueService): void {
  const live = JSON.stringify({ status: 'ok' });
  for (const method of ['GET', 'HEAD'] as const) {
    router.add(method, '/healthz', { action: 'The process could not answer.', identity: false }, async (_r, reply) =>
      reply.type(JSON_TYPE).send(method === 'HEAD' ? undefined : live),
    );
    router.add(method, '/readyz', { action: 'Readiness could not be checked.', identity: false }, async (_r, reply) => {
      const stores = Object.fromEntries(await service.storeStates());
      const down = Object.keys(stores).filter((name) => stores[name] === 'down');
      const full = Object.keys(stores).filter((name) => stores[name] === 'full');
      const problems = [
        ...(down.length > 0 ? [`These stores do not answer: ${down.join(', ')}.`] : []),
        ...(full.length > 0
          ? [
              `The disk holding the data of these stores is full: ${full.join(', ')} (posts are refused; reads, claims and deletes go on and free space).`,
            ]
          : []),
      ];
      const body =
        problems.length === 0
          ? { status: 'ready', stores }
          : { title: UNAVAILABLE_TITLE, description: problems.join(' '), stores };
      reply.code(problems.length === 0 ? 200 : 503).type(JSON_TYPE);
      return reply.send(method === 'HEAD' ? undefined : JSON.stringify(body));
    });
  }
}

/** A version's home document, ping and health (health is private: see privateCheck). */
export function registerServiceRoutes(
  router: Router,
  service: QueueService,
  version: ApiVersion,
  requirePrivate: (request: FastifyRequest) => void,
): void {
  const p = version.prefix;
  const home = homeDocument(version);

  router.add('GET', `${p}/`, { action: 'The home document could not be served.' }, async (_request, reply) =>
    reply.header('cache-control', 'max-age=86400').type('application/json-home').send(home),
  );

  // Zaqar answers a failed ping with 503 and no body; every other error of its API has one, and
  // clients that show errors show the body: say which stores do not answer.
  router.add('GET', `${p}/ping`, { action: 'The storage could not be pinged.' }, async (_request, reply) => {
    if (await service.isAlive()) return reply.code(204).send();
    const states = await service.storeStates();
    const failing = [...states].filter(([, state]) => state !== 'up');
    const named = failing.map(([name, state]) => `${name} (${state === 'full' ? 'disk full' : 'not answering'})`);
    return reply
      .code(503)
      .type(JSON_TYPE)
      .send(
        JSON.stringify({
          title: UNAVAILABLE_TITLE,
          description: `The storage is not available: ${named.join(', ') || 'no store answers'}.`,
        }),
      );
  });

  // A load balancer's probe: it asks whether this process answers, not whether storage does.
  router.add('HEAD', `${p}/ping`, { action: 'The ping could not be answered.' }, async (_request, reply) =>
    reply.code(204).send(),
  );

  router.add('GET', `${p}/health`, { action: 'Health could not be checked.' }, async (request, reply) => {
    requirePrivate(request);
    const report = await service.health();
    const single = report.size === 1 ? report.get('default') : undefined;
    const body = single ?? { catalog_reachable: true, ...Object.fromEntries(report) };
    return reply.type(JSON_TYPE).send(JSON.stringify(body));
  });
}
