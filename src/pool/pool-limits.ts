import { type Limits, makeLimits } from '../core/index.js';

/** Room the catalog's namespaces add in front of a store project id (see namespaces.ts). */
export const CATALOG_PREFIX_ROOM = 32;

/** Messages one step of a move copies; pools are opened so that one claim or page can hold them. */
export const MOVE_BATCH = 100;

/**
 * The limits pool stores and the management store are opened with: the service's store limits
 * (which the service checks every client request against itself), made wider where the catalog
 * and the mover need it. A moved message keeps its remaining lifetime to the second, so a store
 * must take a ttl under the clients' minimum; the mover takes messages a hundred at a time; the
 * catalog's records live in projects with a prefix in front of the store project id; leases are
 * claims of a few seconds without grace. None of this widens what a client may ask: the service
 * refuses a request against its own limits before any store sees it.
 */
export function poolStoreLimits(storeLimits: Limits): Limits {
  return makeLimits({
    ...storeLimits,
    minMessageTtl: 1,
    minClaimTtl: 1,
    minClaimGrace: 0,
    minSubscriptionTtl: 1,
    maxMessagesPerClaimOrPop: Math.max(storeLimits.maxMessagesPerClaimOrPop, MOVE_BATCH),
    maxMessagesPerPage: Math.max(storeLimits.maxMessagesPerPage, MOVE_BATCH),
    maxQueuesPerPage: Math.max(storeLimits.maxQueuesPerPage, MOVE_BATCH),
    maxProjectIdLength: storeLimits.maxProjectIdLength + CATALOG_PREFIX_ROOM,
  });
}
