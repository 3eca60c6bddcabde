import { type Claim, ignoreMissing } from '../../core/index.js';
import { checkCountParameter, readClaimTerms } from '../documents.js';
import { storeProject } from '../namespaces.js';
import type { ScopeContext } from './scope-context.js';

/** Claims on a scope's queues: taking messages for a while, renewing and releasing them. */
export class ClaimScope {
  constructor(private readonly ctx: ScopeContext) {}

  /** Claims up to `limit` messages; null when none is free (or the queue does not exist). */
  async create(project: string, name: string, document: unknown, limit?: number): Promise<Claim | null> {
    const { ctx } = this;
    ctx.checkName(name);
    const terms = readClaimTerms(document, ctx.limits, false);
    const count = checkCountParameter(limit, 'limit', ctx.limits.maxMessagesPerClaimOrPop);
    const driver = await ctx.driver(project, name);
    const sp = storeProject(ctx.kind, project);
    const claim = await ignoreMissing(
      driver.claims.create(sp, name, {
        ...terms,
        ...(count !== undefined ? { limit: count } : {}),
      }),
      null,
    );
    if (claim === null) return null;
    ctx.counters?.claimed(project, name, claim.messages.length);
    try {
      return ctx.openClaim(name, claim);
    } catch (error) {
      // A claim whose messages cannot be served is released: nobody holds them for nothing.
      await ignoreMissing(driver.claims.delete(sp, name, claim.id), undefined);
      throw error;
    }
  }

  async get(project: string, name: string, claimId: string): Promise<Claim> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    return ctx.openClaim(
      name,
      await ctx.translate(name, driver.claims.get(storeProject(ctx.kind, project), name, claimId)),
    );
  }

  /** Renews a claim with the document's ttl and grace. */
  async update(project: string, name: string, claimId: string, document: unknown): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const terms = readClaimTerms(document, ctx.limits, true);
    const driver = await ctx.driver(project, name);
    await ctx.translate(name, driver.claims.update(storeProject(ctx.kind, project), name, claimId, terms));
  }

  /** Releases a claim; unknown claims and queues are fine. */
  async delete(project: string, name: string, claimId: string): Promise<void> {
    const { ctx } = this;
    ctx.checkName(name);
    const driver = await ctx.driver(project, name);
    await ignoreMissing(driver.claims.delete(storeProject(ctx.kind, project), name, claimId), undefined);
  }
}
