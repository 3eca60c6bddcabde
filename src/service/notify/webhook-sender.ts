import { Agent } from 'undici';
import type { Clock } from '../../core/index.js';
import { DestinationDeniedError, type DestinationPolicy } from './destination-policy.js';

/** A delivery's result for one (notification, subscriber) pair, as the Spool takes it. */
export type PairOutcome = { status: 'delivered' } | { status: 'try-later' | 'failed'; reason: string };

export const DELIVERED: PairOutcome = Object.freeze({ status: 'delivered' });

/**
 * Failures for good carry this prefix, so the bounce hook can tell them (counted when they
 * happen) from notifications that ran out of retries (counted when the spool gives up).
 */
export const PERMANENT = 'permanent: ';

export function failed(reason: string): PairOutcome {
  return { status: 'failed', reason: PERMANENT + reason };
}

export function tryLater(reason: string): PairOutcome {
  return { status: 'try-later', reason };
}

export interface WebhookSenderOptions {
  /** A request that has not been answered (status and body) after this long is abandoned and retried. */
  timeoutMs: number;
  /** Keep-alive connections per receiver (origin). */
  connections: number;
  clock: Clock;
  /** Where webhooks may go; checked before each request and again in each connection's DNS lookup. */
  policy?: DestinationPolicy;
  /** Origins of this server's own endpoints (its sockets' notification URL): reached whatever the policy says. */
  ownOrigins?: () => readonly string[];
}

interface Breaker {
  /** While now is before this, requests to the URL are not sent. */
  openUntil: number;
  /** A single request is let through after the pause; the others wait for its answer. */
  probing: boolean;
}

const MAX_RESPONSE_BYTES = 65_536;
const MAX_BREAKERS = 10_000;

/**
 * Posts webhooks over keep-alive connections (undici), each bounded by a timeout, and reads the
 * answer the way the issue asks: a 2xx delivers; a 4xx other than 408 and 429 fails for good (the
 * receiver refuses this notification and will refuse it again); anything else — other statuses,
 * refused or reset connections, garbage instead of HTTP, a timeout — is tried again later.
 *
 * A receiver that hangs must not hold every delivery slot for the length of a timeout over and
 * over: after a request to a webhook URL times out, further requests to it are not sent for one
 * timeout's length (they count as failed attempts and follow the retry schedule); then one
 * request probes it, and the rest wait for that answer. Receivers that answer, even with errors,
 * are never paused, and other URLs of the same host are not either.
 */
export class WebhookSender {
  private readonly agent: Agent;
  private readonly breakers = new Map<string, Breaker>();
  private readonly targets = new Map<string, { origin: string; path: string; host: string }>();
  /** Connections for the server's own endpoints, which the policy does not apply to. */
  private ownAgent: Agent | null = null;

  constructor(private readonly options: WebhookSenderOptions) {
    this.agent = this.makeAgent(options.policy?.open === false ? options.policy : null);
  }

  private makeAgent(policy: DestinationPolicy | null): Agent {
    const options = this.options;
    return new Agent({
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      // The timeout is undici's: an AbortController and a timer of our own per request would
      // double the CPU a webhook costs.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // The policy's lookup resolves, checks and hands the socket only the checked addresses, so a
      // name that resolves elsewhere between the check and the connection (DNS rebinding) is
      // refused, not connected to. undici follows no redirects here (no redirect interceptor): a
      // 3xx is an answer like any other, never a second request to where it points.
      connect: { timeout: Math.min(options.timeoutMs, 30_000), ...(policy ? { lookup: policy.connectLookup() } : {}) },
    });
  }

  async send(url: string, headers: Record<string, string>, body: string): Promise<PairOutcome> {
    const target = this.target(url);
    if (target === null) return failed(`the subscriber ${url} is not a URL`);
    let agent = this.agent;
    const policy = this.options.policy;
    if (policy !== undefined && !policy.open) {
      if (this.options.ownOrigins?.().includes(target.origin)) {
        this.ownAgent ??= this.makeAgent(null);
        agent = this.ownAgent;
      } else {
        try {
          // An address in the URL is never looked up: it is checked here. A name is checked by the lookup.
          policy.checkLiteral(target.host);
        } catch (error) {
          if (error instanceof DestinationDeniedError)
            return failed(`refused by the destination policy: ${error.description}`);
          throw error;
        }
      }
    }
    const breaker = this.breakers.get(url);
    let probe = false;
    if (breaker) {
      if (this.options.clock.now() < breaker.openUntil || breaker.probing) {
        return tryLater(`not sent: ${url} did not answer in time recently; retried on schedule`);
      }
      breaker.probing = true;
      probe = true;
    }
    try {
      const response = await agent.request({
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers,
        body,
      });
      await response.body.dump({ limit: MAX_RESPONSE_BYTES }).catch(() => {});
      if (breaker) this.breakers.delete(url);
      return outcomeOfStatus(response.statusCode);
    } catch (error) {
      const denied = deniedIn(error);
      if (denied !== null) {
        if (probe) this.breakers.delete(url);
        return failed(`refused by the destination policy: ${denied.description}`);
      }
      if (isTimeout(error)) {
        this.pause(url);
        return tryLater(`no answer within ${this.options.timeoutMs} ms`);
      }
      if (probe) this.breakers.delete(url);
      return tryLater(describe(error));
    }
  }

  /** The origin and path of a webhook URL, parsed once. */
  private target(url: string): { origin: string; path: string; host: string } | null {
    let target = this.targets.get(url);
    if (target === undefined) {
      try {
        const parsed = new URL(url);
        target = { origin: parsed.origin, path: parsed.pathname + parsed.search, host: parsed.hostname };
      } catch {
        return null;
      }
      if (this.targets.size >= MAX_BREAKERS) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }

  private pause(url: string): void {
    if (this.breakers.size >= MAX_BREAKERS && !this.breakers.has(url)) this.breakers.clear();
    this.breakers.set(url, {
      openUntil: this.options.clock.now() + Math.max(this.options.timeoutMs, 1000),
      probing: false,
    });
  }

  /** Drops every connection, requests in flight included (their pairs are retried on schedule). */
  async close(): Promise<void> {
    await Promise.all([this.agent.destroy(), this.ownAgent?.destroy()]);
  }
}

export function outcomeOfStatus(status: number): PairOutcome {
  if (status >= 200 && status < 300) return DELIVERED;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return failed(`the receiver answered ${status}`);
  }
  return tryLater(`the receiver answered ${status}`);
}

/** The policy's refusal, when a connection's lookup refused the address (undici may wrap it). */
function deniedIn(error: unknown): DestinationDeniedError | null {
  for (let e = error, depth = 0; e !== null && e !== undefined && depth < 5; depth++) {
    if (e instanceof DestinationDeniedError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message ?? String(error);
  return code ? `${code}: ${message}` : message;
}
