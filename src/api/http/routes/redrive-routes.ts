import { type QueueService, redriveDocument } from '../../../service/index.js';
import { readJson } from '../body.js';
import { identityOf } from '../request-guard.js';
import { JSON_TYPE, paramsOf, type Router } from '../router.js';

/**
 * Redrive (Posthorn's own; Zaqar has none), for members of the queue's project:
 *
 *   POST /v2/queues/{queue}/redrive   {} or {"ids": [...]}   -> 200 {"queue", "dead_letter_queue",
 *                                                                  "moved": [{"from", "to"}], "count", "more"}
 *
 * Moves messages of the queue's `_dead_letter_queue` back into the queue (service/dead-letters.ts
 * says how, and what refuses it). The contract with the console is /work/notes/contract-14.md.
 */
export function registerRedriveRoutes(router: Router, service: QueueService): void {
  router.add(
    'POST',
    '/v2/queues/:name/redrive',
    { action: 'The dead letters could not be redriven.' },
    async (request, reply) => {
      const { project } = identityOf(request);
      const result = await service.redrive(project, paramsOf(request).name, readJson(request.body));
      return reply.type(JSON_TYPE).send(JSON.stringify(redriveDocument(result)));
    },
  );
}
