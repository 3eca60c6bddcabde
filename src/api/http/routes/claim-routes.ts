import { readJson } from '../body.js';
import { intParam, type Query } from '../query.js';
import { claimJson, messagesJson } from '../render.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, pathOf, type ResourceRoutes } from '../router.js';

/** Claims of a queue: claim (201 with the messages, or 204 when none is free), get, renew, release. */
export function registerClaimRoutes(r: ResourceRoutes): void {
  const { router, scope, collection } = r;
  const claims = `${collection}/:name/claims`;

  router.add('POST', claims, { action: 'Claim could not be created.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const name = paramsOf(request).name;
    const limit = intParam(request.query as Query, 'limit');
    const claim = await scope.claim(project, name, readJson(request.body), limit);
    if (claim === null || claim.messages.length === 0) return reply.code(204).send();
    return reply
      .code(201)
      .header('location', `${collection}/${name}/claims/${claim.id}`)
      .type(JSON_TYPE)
      .send(`{"messages":${messagesJson(claim.messages, `${collection}/${name}`)}}`);
  });

  const one = `${claims}/:id`;

  router.add('GET', one, { action: 'Claim could not be queried.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    const claim = await scope.getClaim(project, name, id as string);
    return reply
      .header('content-location', request.url)
      .type(JSON_TYPE)
      .send(claimJson(claim, `${collection}/${name}`, pathOf(request)));
  });

  router.add('PATCH', one, { action: 'Claim could not be updated.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    await scope.updateClaim(project, name, id as string, readJson(request.body));
    return reply.code(204).send();
  });

  router.add('DELETE', one, { action: 'Claim could not be deleted.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    await scope.releaseClaim(project, name, id as string);
    return reply.code(204).send();
  });
}
