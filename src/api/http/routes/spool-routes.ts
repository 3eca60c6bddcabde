import type { FastifyRequest } from 'fastify';
import { isPlainObject } from '../../../core/index.js';
import { bodyError } from '../../../service/index.js';
import type { NotificationSpools, SpoolActionResult, SpoolEntry } from '../../../service/notify/index.js';
import { readJson } from '../body.js';
import { listParam, type Query } from '../query.js';
import { JSON_TYPE, type Router } from '../router.js';
import { adminBeforeBody } from './pool-routes.js';

/**
 * The notification spool's entries, for admins (Posthorn's own; Zaqar has none), acting on every
 * slot's spool as `posthorn spool --data` does (service/notify/spool-admin.ts):
 *
 *   GET  /v2/notifications/spool[?ids=a,b]                     -> 200 {"messages", "busy", "counts"}
 *   POST /v2/notifications/spool/send     {} | {"ids": [...]}  -> 200 {"done": [...], "failed": [...]}
 *   POST /v2/notifications/spool/freeze   {"ids": [...], "reason"?}
 *   POST /v2/notifications/spool/remove   {"ids": [...]}
 *   POST /v2/notifications/spool/recover  {"ids": [...], "from": "removed" | "quarantined"}
 *
 * The requests belong to no project, like pools'. The contract with the console is
 * /work/notes/contract-14.md.
 */
export function registerSpoolRoutes(
  router: Router,
  spools: NotificationSpools,
  requireAdmin: (request: FastifyRequest) => void,
): void {
  const base = '/v2/notifications/spool';
  const admin = { identity: false, preParsing: adminBeforeBody(requireAdmin) } as const;

  router.add('GET', base, { action: 'The spool could not be listed.', identity: false }, async (request, reply) => {
    requireAdmin(request);
    const listing = await spools.list(listParam(request.query as Query, 'ids') ?? []);
    return reply.type(JSON_TYPE).send(
      JSON.stringify({
        messages: listing.messages.map(entryJson),
        busy: listing.busy,
        counts: listing.counts,
      }),
    );
  });

  const action = (
    verb: string,
    keys: readonly string[],
    run: (s: NotificationSpools, ids: string[], document: Record<string, unknown>) => Promise<SpoolActionResult>,
  ) =>
    router.add(
      'POST',
      `${base}/${verb}`,
      { action: `The spool entries could not be ${verb === 'send' ? 'sent' : `${verb}ed`}.`, ...admin },
      async (request, reply) => {
        const document = readJson(request.body) ?? {};
        if (!isPlainObject(document)) throw bodyError('body', 'The request body must be a JSON object.');
        for (const key of Object.keys(document)) {
          if (!keys.includes(key))
            throw bodyError(key, `${JSON.stringify(key)} is not a field here (known: ${keys.join(', ')}).`);
        }
        const ids = document.ids ?? [];
        if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
          throw bodyError('ids', 'The "ids" field must be a list of spool message ids.');
        }
        const result = await run(spools, ids as string[], document);
        return reply.type(JSON_TYPE).send(
          JSON.stringify({
            done: result.done,
            failed: result.failed.map((f) => ({ id: f.id, code: f.error.code, message: f.error.message })),
          }),
        );
      },
    );

  action('send', ['ids'], (s, ids) => s.send(ids));
  action('freeze', ['ids', 'reason'], (s, ids, document) => {
    const reason = document.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.trim() === '')) {
      throw bodyError('reason', 'The "reason" field must be a text that is not empty.');
    }
    return s.freeze(ids, reason);
  });
  action('remove', ['ids'], (s, ids) => s.remove(ids));
  action('recover', ['ids', 'from'], (s, ids, document) => {
    const from = document.from;
    if (from !== 'removed' && from !== 'quarantined') {
      throw bodyError('from', 'The "from" field must be "removed" or "quarantined".');
    }
    return s.recover(ids, from);
  });
}

/** An entry as the API shows it: snake_case, times as ISO strings. */
function entryJson(m: SpoolEntry): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: m.id,
    slot: m.slot,
    queue: m.queue,
    state: m.state,
    sender: m.sender,
    recipients: m.recipients.map((r) => ({ address: r.address, state: r.state, reason: r.reason, at: iso(r.at) })),
    spooled: iso(m.spooledAt),
    next_attempt: iso(m.nextAttemptAt),
    attempts: m.attempts,
    last_attempt: iso(m.lastAttemptAt),
    last_error: m.lastError,
    frozen_reason: m.frozenReason,
    quarantine_reason: m.quarantineReason,
  };
}
