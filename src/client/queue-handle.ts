import { ClaimNotFoundError, MessageNotClaimedByError, MessageNotClaimedError, NotFoundError } from '../core/errors.js';
import { type HandleContext, ResourceHandle } from './resource-handle.js';
import type { ClaimInfo, ClaimOptions, QueueClaim, ShareOptions, SignedUrl } from './types.js';
import { lastSegment, messagesFrom, seg } from './wire.js';
import type { FinishOutcome, WorkClaimOptions, WorkQueue } from './work-queue.js';

/** Ids per fenced bulk delete: Zaqar's default max_messages_per_page. */
const FINISH_BATCH = 20;

/**
 * A queue of the server: everything `ResourceHandle` does, plus claims and pre-signed URLs, and
 * the `WorkQueue` a Worker runs over. Making a handle asks nothing of the server; a queue that
 * does not exist answers QueueNotFoundError where Zaqar says 404, and is created by a post.
 */
export class QueueHandle extends ResourceHandle implements WorkQueue {
  constructor(
    context: HandleContext,
    name: string,
    private readonly siblingOf: (name: string) => QueueHandle,
  ) {
    super(context, 'queues', name);
  }

  /** Claims up to `limit` free messages; null when none is free (Zaqar's 204). */
  async claim(options: ClaimOptions | WorkClaimOptions): Promise<QueueClaim | null> {
    const answer = await this.http.request({
      method: 'POST',
      path: `${this.base}/claims${options.limit === undefined ? '' : `?limit=${options.limit}`}`,
      body: { ttl: options.ttl, grace: options.grace },
      route: this.route(),
    });
    if (answer.status === 204) return null;
    const messages = messagesFrom(answer.json);
    const location = answer.headers.location;
    const href = Array.isArray(location) ? location[0] : location;
    const id = href === undefined ? messages[0]?.claimId : lastSegment(href);
    if (id === undefined || id === null) return null;
    return { id, ttl: options.ttl, grace: options.grace, messages };
  }

  async getClaim(claimId: string): Promise<ClaimInfo> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${this.base}/claims/${seg(claimId)}`,
      route: this.route({ claimId }),
    });
    const doc = answer.json as { age?: number; ttl?: number; href?: string };
    return {
      id: claimId,
      ttl: Number(doc.ttl ?? 0),
      age: Number(doc.age ?? 0),
      href: String(doc.href ?? ''),
      messages: messagesFrom(doc),
    };
  }

  /** Renews the lease from now; false when it is gone (expired or released). */
  async renew(claimId: string, options: { ttl: number; grace: number }): Promise<boolean> {
    const answer = await this.http.request({
      method: 'PATCH',
      path: `${this.base}/claims/${seg(claimId)}`,
      body: { ttl: options.ttl, grace: options.grace },
      route: this.route({ claimId }),
      accept: [404],
      // Setting a lease to "ttl from now" twice is setting it once.
      idempotent: true,
    });
    return answer.status !== 404;
  }

  /** Releases the lease; its unfinished messages are free at once. No error when it is gone. */
  async release(claimId: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `${this.base}/claims/${seg(claimId)}`,
      route: this.route({ claimId }),
      accept: [404],
    });
  }

  /**
   * `finish` of many messages of one lease: one `DELETE ?ids&claim_ids&fenced=true` per 20 ids
   * (Zaqar's max_messages_per_page, the most a server takes by default), each one storage call
   * that deletes only what the claim still holds and names what it deleted.
   */
  async finishMany(messageIds: string[], claimId: string): Promise<FinishOutcome[]> {
    const batches: string[][] = [];
    for (let i = 0; i < messageIds.length; i += FINISH_BATCH) batches.push(messageIds.slice(i, i + FINISH_BATCH));
    const answers = await Promise.all(
      batches.map((ids) =>
        this.http.request({
          method: 'DELETE',
          path: `${this.base}/messages?ids=${ids.map(seg).join(',')}&claim_ids=${seg(claimId)}&fenced=true`,
          route: this.route({ claimId }),
        }),
      ),
    );
    const deleted = new Set(answers.flatMap((answer) => (answer.json as { deleted?: string[] }).deleted ?? []));
    return messageIds.map((id) => (deleted.delete(id) ? 'deleted' : 'lease-lost'));
  }

  /**
   * Deletes the message only while `claimId` holds it. `fenced=true` asks the server to refuse a
   * gone message too (plain Zaqar deletes nothing and says 204), so 'deleted' means this lease did it.
   */
  async finish(messageId: string, claimId: string): Promise<FinishOutcome> {
    try {
      await this.http.request({
        method: 'DELETE',
        path: `${this.base}/messages/${seg(messageId)}?claim_id=${seg(claimId)}&fenced=true`,
        route: this.route({ messageId, claimId }),
      });
      return 'deleted';
    } catch (error) {
      if (
        error instanceof MessageNotClaimedError ||
        error instanceof MessageNotClaimedByError ||
        error instanceof ClaimNotFoundError ||
        // 404: the message is gone (fenced), or its queue is.
        error instanceof NotFoundError
      ) {
        return 'lease-lost';
      }
      throw error;
    }
  }

  /** Creates a pre-signed URL for this queue's resources; `createClient({ auth: { signedUrl } })` uses it. */
  async share(options: ShareOptions = {}): Promise<SignedUrl> {
    const answer = await this.http.request({
      method: 'POST',
      path: `${this.base}/share`,
      body: options,
      route: this.route(),
      // Signing is a pure function of the request and the time: asking twice does nothing twice.
      idempotent: true,
    });
    return answer.json as SignedUrl;
  }

  /** Another queue of the same client (a dead-letter queue, say). */
  sibling(name: string): QueueHandle {
    return this.siblingOf(name);
  }
}
