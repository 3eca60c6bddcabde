import type { PolicyAction } from '../../service/index.js';

/**
 * The policy action of every guarded route, in one table (method and route template, version
 * prefix left out; topics share the queue shapes under their own `topics:` names). The router
 * looks each route up when it is added and refuses to add a guarded route missing here, so no
 * route can go without a policy check.
 */
const QUEUE_ROUTES: Record<string, PolicyAction> = {
  'GET /': 'home:get',
  'GET /ping': 'ping:get',
  'HEAD /ping': 'ping:get',
  'GET /health': 'health:get',
  'GET /queues': 'queues:get_all',
  'PUT /queues/:name': 'queues:create',
  'GET /queues/:name': 'queues:get',
  'PATCH /queues/:name': 'queues:update',
  'DELETE /queues/:name': 'queues:delete',
  'GET /queues/:name/stats': 'queues:stats',
  'POST /queues/:name/purge': 'queues:purge',
  'POST /queues/:name/share': 'queues:share',
  'POST /queues/:name/messages': 'messages:create',
  'GET /queues/:name/messages': 'messages:get_all',
  'DELETE /queues/:name/messages': 'messages:delete_all',
  'GET /queues/:name/messages/:id': 'messages:get',
  'DELETE /queues/:name/messages/:id': 'messages:delete',
  'POST /queues/:name/claims': 'claims:create',
  'GET /queues/:name/claims/:id': 'claims:get',
  'PATCH /queues/:name/claims/:id': 'claims:update',
  'DELETE /queues/:name/claims/:id': 'claims:delete',
  'GET /queues/:name/subscriptions': 'subscription:get_all',
  'POST /queues/:name/subscriptions': 'subscription:create',
  'GET /queues/:name/subscriptions/:id': 'subscription:get',
  'PATCH /queues/:name/subscriptions/:id': 'subscription:update',
  'DELETE /queues/:name/subscriptions/:id': 'subscription:delete',
  'PUT /queues/:name/subscriptions/:id/confirm': 'subscription:confirm',
  'POST /queues/:name/redrive': 'queues:redrive',
  'GET /notifications/spool': 'spool:get_all',
  'POST /notifications/spool/send': 'spool:send',
  'POST /notifications/spool/freeze': 'spool:freeze',
  'POST /notifications/spool/remove': 'spool:remove',
  'POST /notifications/spool/recover': 'spool:recover',
  'POST /queues/:name/move': 'moves:create',
  'GET /queues/:name/move': 'moves:get',
  'GET /quotas/:project': 'quotas:get',
  'PUT /quotas/:project': 'quotas:update',
  'DELETE /quotas/:project': 'quotas:delete',
};

for (const resource of ['pools', 'flavors'] as const) {
  QUEUE_ROUTES[`GET /${resource}`] = `${resource}:get_all`;
  QUEUE_ROUTES[`GET /${resource}/:name`] = `${resource}:get`;
  QUEUE_ROUTES[`PUT /${resource}/:name`] = `${resource}:create`;
  QUEUE_ROUTES[`PATCH /${resource}/:name`] = `${resource}:update`;
  QUEUE_ROUTES[`DELETE /${resource}/:name`] = `${resource}:delete`;
}

const VERSION_PREFIX = /^\/v\d+(\.\d+)?(?=\/|$)/;

/** The policy action of a route, or undefined for one that has none (probes, the versions document). */
export function routeAction(method: string, url: string): PolicyAction | undefined {
  const versioned = VERSION_PREFIX.exec(url);
  if (versioned === null) return undefined;
  const path = url.slice(versioned[0].length) || '/';
  const topic = path.startsWith('/topics');
  const key = `${method} ${topic ? `/queues${path.slice('/topics'.length)}` : path}`;
  const action = QUEUE_ROUTES[key];
  if (action === undefined || !topic) return action;
  return action.startsWith('queues:') ? (action.replace('queues:', 'topics:') as PolicyAction) : action;
}
