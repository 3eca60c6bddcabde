import { PosthornError, type PosthornErrorOptions } from '../core/index.js';

/**
 * The Worker no longer holds the message it was working on: its lease expired or was renewed
 * too late, so another consumer may hold it now. A handler's signal aborts with it, so work
 * that can stop does stop instead of racing the new owner.
 */
export class LeaseLostError extends PosthornError {
  readonly code = 'PH_LEASE_LOST';
  constructor(
    readonly messageId: string,
    readonly claimId: string,
    options?: PosthornErrorOptions,
  ) {
    super(`the lease ${JSON.stringify(claimId)} on message ${JSON.stringify(messageId)} is lost`, options);
  }
}
