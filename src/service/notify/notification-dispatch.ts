import type { Clock } from '../../core/index.js';
import type { NotificationBatch, SpooledSubscription } from './batch.js';
import { DestinationDeniedError, type DestinationPolicy } from './destination-policy.js';
import { DEFAULT_SMTP_RELAY, MailSender, type SmtpRelay } from './mail-sender.js';
import { type Payload, webhookBody, webhookHeaders } from './payloads.js';
import { parseSubscriber } from './subscriber-uri.js';
import { failed, type PairOutcome, WebhookSender } from './webhook-sender.js';

export interface NotificationDispatchOptions {
  /** A webhook (or mail) not answered after this long is tried again later. */
  timeoutMs: number;
  /** Keep-alive connections per webhook receiver. */
  webhookConnections: number;
  clock: Clock;
  smtp?: Partial<SmtpRelay>;
  destinations?: DestinationPolicy;
  ownOrigins?: () => readonly string[];
}

/** How one subscriber is reached. */
export interface Dispatch {
  /** Sends one notification of the batch (by its index). */
  send(item: number): Promise<PairOutcome>;
  /** Notifications sent to this subscriber at once. */
  lanes: number;
  /** Where they go, fit for a log line: a webhook's origin or a mail domain (never a path or address). */
  where: string;
}

const REQUESTS_PER_SUBSCRIBER = 32;
const MAILS_PER_SUBSCRIBER = 2;

/**
 * Delivery by the subscriber's scheme: `http(s)://` (and `trust+`) to webhooks, `mailto:` through
 * the operator's SMTP relay. Which destinations a webhook may reach is the destination policy's
 * to say, here when a subscription is made and at each delivery.
 */
export class NotificationDispatch {
  readonly relay: SmtpRelay;
  private readonly webhook: WebhookSender;
  private mail: MailSender | null = null;

  constructor(private readonly options: NotificationDispatchOptions) {
    this.webhook = new WebhookSender({
      timeoutMs: options.timeoutMs,
      connections: options.webhookConnections,
      clock: options.clock,
      ...(options.destinations ? { policy: options.destinations } : {}),
      ...(options.ownOrigins ? { ownOrigins: options.ownOrigins } : {}),
    });
    this.relay = { ...DEFAULT_SMTP_RELAY, ...options.smtp };
  }

  /**
   * Refuses (DestinationDeniedError, a 400) a webhook subscriber whose host the destination
   * policy denies, resolving its name now. A name that does not resolve is let through: nothing
   * is known against it, and delivery checks again. Mail goes to the operator's SMTP relay, not
   * to an address the client chooses, so `mailto:` subscribers are not checked.
   */
  async checkSubscriber(subscriber: string): Promise<void> {
    const policy = this.options.destinations;
    if (policy === undefined || policy.open) return;
    const target = parseSubscriber(subscriber);
    if (target.type !== 'webhook') return;
    if (this.options.ownOrigins?.().includes(new URL(target.url).origin)) return;
    try {
      await policy.checkUrl(target.url);
    } catch (error) {
      if (error instanceof DestinationDeniedError) throw error;
      // A resolver error (no such name, DNS down): not a refusal.
    }
  }

  /** How to reach a subscription's subscriber, or the failure of every pair when it cannot be reached. */
  to(s: SpooledSubscription, batch: NotificationBatch, jsonOf: (item: number) => string): Dispatch | PairOutcome {
    const target = parseSubscriber(s.subscriber);
    if (target.type === 'unreachable') return failed(target.reason);
    if (target.type === 'webhook') {
      const headers = webhookHeaders(s.options);
      if (target.authorization !== null) headers.authorization = target.authorization;
      return {
        send: (item) => this.webhook.send(target.url, headers, webhookBody(jsonOf(item), s.options)),
        lanes: REQUESTS_PER_SUBSCRIBER,
        where: new URL(target.url).origin,
      };
    }
    return {
      send: (item) =>
        this.mailer().send(this.mailOf(s, target.address, target.subject, batch.items[item] as Payload, jsonOf(item))),
      lanes: MAILS_PER_SUBSCRIBER,
      where: `mailto:@${target.address.split('@').pop()}`,
    };
  }

  async close(): Promise<void> {
    this.mail?.close();
    await this.webhook.close();
  }

  private mailer(): MailSender {
    this.mail ??= new MailSender(this.relay, this.options.timeoutMs, this.options.clock);
    return this.mail;
  }

  private mailOf(s: SpooledSubscription, to: string, uriSubject: string | null, payload: Payload, json: string) {
    const from = typeof s.options.from === 'string' && s.options.from !== '' ? s.options.from : this.relay.from;
    const type = payload.Message_Type;
    if (type === 'SubscriptionConfirmation' || type === 'UnsubscribeConfirmation') {
      const link = typeof payload.WSGISubscribeURL === 'string' ? payload.WSGISubscribeURL : payload['URL-Paths'];
      const what = type === 'SubscriptionConfirmation' ? 'confirm' : 'resubscribe to';
      return {
        from,
        to,
        subject:
          type === 'SubscriptionConfirmation'
            ? `Confirm your subscription to ${s.source}`
            : `You unsubscribed from ${s.source}`,
        text:
          `${String(payload.Message)}\n\nTo ${what} it, send PUT ${String(link)} with the body ` +
          `{"confirmed": true} and the headers URL-Signature, URL-Methods, URL-Paths, URL-Expires and ` +
          `X-Project-ID given below.\n\n${json}\n`,
      };
    }
    const subject = uriSubject ?? (typeof s.options.subject === 'string' ? s.options.subject : '');
    return { from, to, subject, text: json };
  }
}
