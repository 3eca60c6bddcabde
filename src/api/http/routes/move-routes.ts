import type { FastifyRequest } from 'fastify';
import { InvalidArgumentError, isPlainObject, ResourceNotFoundError } from '../../../core/index.js';
import type { MoveReport, PoolAdministration, QueueService } from '../../../service/index.js';
import { requireJson } from '../body.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, type Router } from '../router.js';
import { adminBeforeBody } from './pool-routes.js';

const MOVE_KEYS = new Set(['pool', 'claim_wait']);

/**
 * Moving a queue between pools (Posthorn's own; Zaqar has no such call), for admins:
 *
 *   POST /v2/queues/{queue}/move   {"pool": "pg1", "claim_wait": 300}   -> 202, the move's status
 *   GET  /v2/queues/{queue}/move                                        -> 200, the last move's status
 *
 * The queue's project is the request's X-Project-ID. The move runs in the server that took the
 * POST; posting again resumes a move that stopped (its server died, a pool went away) and is
 * harmless while it runs. `claim_wait` bounds, in seconds, how long consumers' claims in the old
 * pool may hold the move up (see queue-mover.ts); by default it waits for them.
 */
export function registerMoveRoutes(
  router: Router,
  service: QueueService,
  pools: PoolAdministration,
  requireAdmin: (request: FastifyRequest) => void,
): void {
  const item = '/v2/queues/:name/move';

  router.add(
    'POST',
    item,
    { action: 'The queue could not be moved.', preParsing: adminBeforeBody(requireAdmin) },
    async (request, reply) => {
      const { project } = identityOf(request);
      const queue = service.queues.checkName(paramsOf(request).name);
      const document = requireJson(request.body);
      if (!isPlainObject(document)) throw new InvalidArgumentError('body', 'must be a JSON object');
      for (const key of Object.keys(document)) {
        if (!MOVE_KEYS.has(key))
          throw new InvalidArgumentError(key, 'is not a field of a move (known: pool, claim_wait)');
      }
      if (typeof document.pool !== 'string' || document.pool === '') {
        throw new InvalidArgumentError('pool', 'must name the pool to move the queue to');
      }
      const wait = document.claim_wait;
      if (wait !== undefined && (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0)) {
        throw new InvalidArgumentError('claim_wait', 'must be a number of seconds, 0 or more');
      }
      const record = await pools.startMove(project, queue, document.pool, {
        ...(wait !== undefined ? { claimWaitSeconds: wait } : {}),
      });
      return reply
        .code(202)
        .header('location', `/v2/queues/${queue}/move`)
        .type(JSON_TYPE)
        .send(JSON.stringify(moveJson({ ...record, active: record.status === 'running' })));
    },
  );

  router.add('GET', item, { action: 'The move could not be read.' }, async (request, reply) => {
    requireAdmin(request);
    const { project } = identityOf(request);
    const queue = service.queues.checkName(paramsOf(request).name);
    const report = await pools.moveStatus(project, queue);
    if (report === null) throw new ResourceNotFoundError('move of queue', queue);
    return reply.type(JSON_TYPE).send(JSON.stringify(moveJson(report)));
  });
}

/** A move as the API shows it. */
function moveJson(move: MoveReport): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: move.id,
    queue: move.queue,
    from: move.from,
    to: move.to,
    status: move.status,
    step: move.step,
    active: move.active,
    copied: move.copied,
    source: move.source,
    released_claims: move.releasedClaims,
    recovered: move.recovered,
    started: iso(move.startedAt),
    updated: iso(move.updatedAt),
    finished: iso(move.finishedAt),
    error: move.error,
  };
}
