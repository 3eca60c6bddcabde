import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Who may call the admin API (pools, flavors, moves), over HTTP and WebSocket alike: requests
 * whose X-Admin-Token header equals the configured `[admin] token`. Without a configured token
 * every admin request is refused, so an operator has to choose to open it. The comparison takes
 * the same time whatever the header holds (both sides are hashed to equal lengths first). The
 * auth work of a later issue replaces this check.
 */
export class AdminToken {
  private readonly expected: Buffer | null;

  constructor(token: string | null) {
    this.expected = token === null ? null : digest(token);
  }

  /** Why a request presenting `given` is refused (the transports answer 403), or null when it may go on. */
  refusal(given: string | undefined): string | null {
    if (this.expected === null) {
      return 'The admin API is disabled: set [admin] token (or POSTHORN_ADMIN_TOKEN) and send it in X-Admin-Token.';
    }
    if (given === undefined || given === '' || !timingSafeEqual(digest(given), this.expected)) {
      return 'This request needs the admin token in the X-Admin-Token header.';
    }
    return null;
  }

  /**
   * For Zaqar's private endpoints that a server without an admin token still serves to everyone
   * (health: Zaqar without auth lets every request through): refused only when a token is
   * configured and the request lacks it.
   */
  privateRefusal(given: string | undefined): string | null {
    return this.expected === null ? null : this.refusal(given);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
