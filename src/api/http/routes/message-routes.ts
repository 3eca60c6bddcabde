import { ClaimNotFoundError } from '../../../core/index.js';
import { apiError, MessagesTooLargeError, TITLES } from '../../../service/index.js';
import { HttpError } from '../../shared/index.js';
import { requireJson } from '../body.js';
import { boolParam, intParam, listParam, type Query, queryString, stringParam } from '../query.js';
import { deletionJson, linksJson, messageJson, messagesJson, poppedJson, resourcesJson } from '../render.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, pathOf, type ResourceRoutes } from '../router.js';

/**
 * The post's `Idempotency-Key` header (the IETF httpapi draft's): a repeat within the queue's
 * `_idempotency_window` answers the first post's 201 and stores nothing. The store checks the
 * key's shape; a header sent twice is refused here, as it cannot be told which one is meant.
 */
function idempotencyKey(header: string | string[] | undefined): { idempotencyKey: string } | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw apiError('Idempotency-Key', 'The Idempotency-Key header must be sent once.');
  return { idempotencyKey: header };
}

/** Messages of a queue or topic: post, list, get by ids, delete by ids, pop, get one, delete one. */
export function registerMessageRoutes(r: ResourceRoutes): void {
  const { router, scope, collection, limits } = r;
  const messages = `${collection}/:name/messages`;

  router.add(
    'POST',
    messages,
    {
      action: 'Messages could not be enqueued.',
      bodyLimit: limits.maxMessagesPostSize,
      // The service's refusal, for a chunked body Fastify cuts off past the server's limit
      // (without saying by how much: over it by a byte at least).
      sizeLimit: {
        title: TITLES.api,
        description: new MessagesTooLargeError(
          limits.maxMessagesPostSize,
          limits.maxMessagesPostSize + 1,
          limits.maxMessagesPostSize,
        ).message,
      },
      // The queue's own size limit needs its metadata: read it before the body, and refuse an
      // announced length over the limit without reading a byte of it.
      preParsing: async (request, _reply, payload) => {
        const length = request.headers['content-length'];
        if (length !== undefined) {
          await scope.checkPostSize(identityOf(request).project, paramsOf(request).name, Number(length));
        }
        return payload;
      },
    },
    async (request, reply) => {
      const { project, clientId } = identityOf(request);
      const name = paramsOf(request).name;
      const body = request.body;
      // A chunked body announces no length: its size is known only now.
      if (request.headers['content-length'] === undefined && body instanceof Uint8Array) {
        await scope.checkPostSize(project, name, body.length);
      }
      const key = idempotencyKey(request.headers['idempotency-key']);
      const ids = await scope.post(project, name, clientId, requireJson(body), key);
      const base = `${collection}/${name}`;
      return reply
        .code(201)
        .header('location', `${base}/messages?ids=${ids.join(',')}`)
        .type(JSON_TYPE)
        .send(resourcesJson(ids, base));
    },
  );

  router.add('GET', messages, { action: 'Messages could not be listed.' }, async (request, reply) => {
    const { project, clientId } = identityOf(request);
    const name = paramsOf(request).name;
    const query = request.query as Query;
    const base = `${collection}/${name}`;
    const ids = listParam(query, 'ids');
    if (ids !== undefined) {
      const found = await scope.getMessages(project, name, ids);
      if (found.length === 0) {
        throw new HttpError(
          404,
          'Not found',
          `No messages with ids ${ids.join(', ')} were found in ${r.kind} ${name}.`,
        );
      }
      return reply.type(JSON_TYPE).send(`{"messages":${messagesJson(found, base)}}`);
    }
    const marker = stringParam(query, 'marker');
    const limit = intParam(query, 'limit');
    const echo = boolParam(query, 'echo');
    const includeClaimed = boolParam(query, 'include_claimed');
    const includeDelayed = boolParam(query, 'include_delayed');
    const page = await scope.listMessages(project, name, clientId, {
      ...(marker !== undefined ? { marker } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(echo !== undefined ? { echo } : {}),
      ...(includeClaimed !== undefined ? { includeClaimed } : {}),
      ...(includeDelayed !== undefined ? { includeDelayed } : {}),
    });
    const next =
      page.messages.length === 0
        ? null
        : pathOf(request) +
          queryString([
            ['marker', page.marker ?? marker],
            ['limit', limit],
            ['echo', echo],
            ['include_claimed', includeClaimed],
            ['include_delayed', includeDelayed],
          ]);
    return reply.type(JSON_TYPE).send(`{"messages":${messagesJson(page.messages, base)},"links":${linksJson(next)}}`);
  });

  router.add('DELETE', messages, { action: 'Messages could not be deleted.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const name = paramsOf(request).name;
    const query = request.query as Query;
    const ids = listParam(query, 'ids');
    const pop = intParam(query, 'pop');
    if (ids !== undefined && pop !== undefined) {
      throw apiError('pop', 'The "pop" and "ids" parameters cannot be given together.');
    }
    if (ids === undefined && pop === undefined) {
      throw apiError('ids', 'Say which messages to delete with "ids", or how many to pop with "pop".');
    }
    const claimIds = listParam(query, 'claim_ids');
    const fenced = boolParam(query, 'fenced') ?? false;
    if (pop !== undefined) {
      // Zaqar ignores them here, or refuses them with message_delete_with_claim_id
      // (validation.message_deletion): a pop cannot honour them, so they are always refused.
      if (claimIds !== undefined) throw apiError('claim_ids', 'The "claim_ids" parameter goes with "ids", not "pop".');
      const popped = await scope.pop(project, name, pop);
      return reply.type(JSON_TYPE).send(poppedJson(popped));
    }
    const deletion = await scope.deleteMessages(project, name, ids as string[], claimIds);
    // Zaqar answers 204 whatever its bulk_delete did (zaqar/transport/wsgi/v2_0/messages.py
    // _delete_messages_by_id), so a Zaqar client learns nothing from the body: with `claim_ids`,
    // ids the claims no longer hold stay, and only `fenced=true` (a Posthorn extension, as on
    // the one-message delete) asks which were deleted.
    if (fenced) return reply.type(JSON_TYPE).send(deletionJson(deletion));
    return reply.code(204).send();
  });

  const one = `${messages}/:id`;

  router.add('GET', one, { action: 'The message could not be retrieved.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    const message = await scope.getMessage(project, name, id as string);
    return reply.type(JSON_TYPE).send(messageJson(message, `${collection}/${name}`));
  });

  router.add('DELETE', one, { action: 'The message could not be deleted.' }, async (request, reply) => {
    const { project } = identityOf(request);
    const { name, id } = paramsOf(request);
    const claimId = stringParam(request.query as Query, 'claim_id');
    // A Posthorn extension (Zaqar clients never send it): a message already gone is 404, not 204.
    const fenced = boolParam(request.query as Query, 'fenced') ?? false;
    try {
      await scope.deleteMessage(project, name, id as string, claimId, fenced);
    } catch (error) {
      if (error instanceof ClaimNotFoundError) {
        throw new HttpError(400, TITLES.unableToDelete, 'The specified claim does not exist or has expired.');
      }
      throw error;
    }
    return reply.code(204).send();
  });
}
