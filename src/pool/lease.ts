import { ClaimNotFoundError, ignoreMissing, QueueNotFoundError } from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';
import { LEASES } from './management-store.js';

/** Lifetime of a lock token message: the longest a store keeps a message (renewed by each use). */
const TOKEN_TTL_SECONDS = 1_209_600;

/**
 * A lease on a name, held by at most one process at a time, built on the storage contract's one
 * atomic take — the claim — so it works on every management store:
 *
 * - the name's lock is a queue holding token messages; holding the lease is holding a live claim
 *   on the OLDEST token. Claims are atomic, so two processes never hold the same token;
 * - a process that finds the lock queue empty posts a token first. Two may do so at once, making
 *   two tokens; each then claims one, but only the holder of the oldest (`messages.first`) keeps
 *   it — the other gives its claim back. Spare tokens are harmless;
 * - the claim lasts `ttlSeconds` and is renewed by `renew()`; a holder that dies loses the lease
 *   when its claim expires, and the token is free for the next taker. A claim keeps its token
 *   alive, so a held token never expires under its holder.
 */
export class Lease {
  private constructor(
    private readonly store: DataDriver,
    readonly name: string,
    private readonly claimId: string,
    readonly ttlSeconds: number,
  ) {}

  /** Takes the lease, or answers null when another process holds it. */
  static async acquire(store: DataDriver, name: string, ttlSeconds: number): Promise<Lease | null> {
    // A missing queue: no token was ever posted.
    const take = () => ignoreMissing(store.claims.create(LEASES, name, { limit: 1, ttl: ttlSeconds, grace: 0 }), null);
    let claim = await take();
    if (claim === null) {
      if ((await liveTokens(store, name)) > 0) return null; // every token is held
      await store.messages.post(LEASES, name, [{ body: 'lease', ttl: TOKEN_TTL_SECONDS }], 'posthorn-lease');
      claim = await take();
      if (claim === null) return null;
    }
    const token = claim.messages[0];
    const oldest = await store.messages.first(LEASES, name, 'oldest');
    if (token === undefined || oldest === null || oldest.id !== token.id) {
      await store.claims.delete(LEASES, name, claim.id);
      return null;
    }
    return new Lease(store, name, claim.id, ttlSeconds);
  }

  /** True when a live claim holds a token of the name (some process holds the lease). */
  static async isHeld(store: DataDriver, name: string): Promise<boolean> {
    const stats = await ignoreMissing(store.queues.stats(LEASES, name), null);
    return stats !== null && stats.claimed > 0;
  }

  /** Extends the lease by its ttl from now; false when it was lost (the claim expired). */
  async renew(): Promise<boolean> {
    try {
      await this.store.claims.update(LEASES, this.name, this.claimId, { ttl: this.ttlSeconds, grace: 0 });
      return true;
    } catch (error) {
      if (error instanceof ClaimNotFoundError || error instanceof QueueNotFoundError) return false;
      throw error;
    }
  }

  /** Gives the lease back at once (the token stays for the next taker). */
  async release(): Promise<void> {
    await this.store.claims.delete(LEASES, this.name, this.claimId);
  }
}

async function liveTokens(store: DataDriver, name: string): Promise<number> {
  return (await ignoreMissing(store.queues.stats(LEASES, name), null))?.total ?? 0;
}
