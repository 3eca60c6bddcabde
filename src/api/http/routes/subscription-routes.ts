import { readJson } from '../body.js';
import { intParam, type Query, stringParam } from '../query.js';
import { jsonString, subscriptionObject } from '../render.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, pathOf, type ResourceRoutes } from '../router.js';

/** Subscriptions of a queue or topic: list, subscribe, get, change, unsubscribe, confirm. */
export function registerSubscriptionRoutes(r: ResourceRoutes): void {
  const { router, scope, collection } = r;
  const subscriptions = `${collection}/:name/subscriptions`;

  router.add('GET', subscriptions, { action: 'Subscriptions could not be listed.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const name = paramsOf(request).name;
    const query = request.query as Query;
    const marker = stringParam(query, 'marker');
    const limit = intParam(query, 'limit');
    const page = await scope.listSubscriptions(project, name, {
      ...(marker !== undefined ? { marker } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    const items = page.subscriptions.map(subscriptionObject);
    let next = '';
    if (items.length > 0) {
      next = `${pathOf(request)}?marker=${encodeURIComponent(page.marker ?? marker ?? '')}`;
      if (limit !== undefined) next += `&limit=${limit}`;
    }
    return reply
      .type(JSON_TYPE)
      .send(JSON.stringify({ subscriptions: items, links: next === '' ? [] : [{ rel: 'next', href: next }] }));
  });

  router.add('POST', subscriptions, { action: 'Subscription could not be created.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const result = await scope.subscribe(project, paramsOf(request).name, readJson(request.body));
    return reply
      .code(201)
      .header('location', pathOf(request))
      .type(JSON_TYPE)
      .send(`{"subscription_id":${jsonString(result.id)}}`);
  });

  const one = `${subscriptions}/:id`;

  router.add('GET', one, { action: 'Subscription could not be retrieved.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    const subscription = await scope.getSubscription(project, name, id as string);
    // Posthorn's addition: how many notifications it was delivered, has waiting, and lost for good.
    const counts = scope.deliveryCounts(subscription.id);
    const document = subscriptionObject(subscription);
    return reply
      .type(JSON_TYPE)
      .send(JSON.stringify(counts === null ? document : { ...document, delivery_status: counts }));
  });

  router.add('PATCH', one, { action: 'Subscription could not be updated.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    await scope.updateSubscription(project, name, id as string, readJson(request.body));
    return reply.code(204).header('location', pathOf(request)).send();
  });

  router.add('DELETE', one, { action: 'Subscription could not be deleted.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    await scope.unsubscribe(project, name, id as string);
    return reply.code(204).send();
  });

  router.add('PUT', `${one}/confirm`, { action: 'Subscription could not be confirmed.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    await scope.confirmSubscription(project, name, id as string, readJson(request.body));
    return reply.code(204).header('location', pathOf(request)).send();
  });
}
