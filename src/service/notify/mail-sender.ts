import nodemailer, { type Transporter } from 'nodemailer';
import type { Clock } from '../../core/index.js';
import { DELIVERED, failed, type PairOutcome, tryLater } from './webhook-sender.js';

/** The SMTP relay `mailto:` notifications go through. */
export interface SmtpRelay {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS is used when the relay offers it. */
  secure: boolean;
  user: string | null;
  password: string | null;
  /** The sender when a subscription's options give no `from`. */
  from: string;
}

export const DEFAULT_SMTP_RELAY: Readonly<SmtpRelay> = Object.freeze({
  host: '127.0.0.1',
  port: 25,
  secure: false,
  user: null,
  password: null,
  from: 'posthorn@localhost',
});

export interface Mail {
  from: string;
  to: string;
  subject: string;
  text: string;
}

interface SmtpError extends Error {
  responseCode?: number;
}

/**
 * Sends notification mails through one pooled SMTP connection set (nodemailer). A 5xx reply
 * fails the mail for good; a 4xx reply, a connection failure or a timeout is tried again later.
 */
export class MailSender {
  private readonly transport: Transporter;

  constructor(
    relay: SmtpRelay,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
  ) {
    this.transport = nodemailer.createTransport({
      host: relay.host,
      port: relay.port,
      secure: relay.secure,
      pool: true,
      maxConnections: 2,
      ...(relay.user !== null ? { auth: { user: relay.user, pass: relay.password ?? '' } } : {}),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  }

  async send(mail: Mail): Promise<PairOutcome> {
    let timer: { cancel(): void } | undefined;
    const late = new Promise<'timeout'>((resolve) => {
      timer = this.clock.setTimer(this.timeoutMs, () => resolve('timeout'));
    });
    const sending = this.transport.sendMail({
      envelope: { from: mail.from, to: [mail.to] },
      from: mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
    });
    sending.catch(() => {}); // a failure after the timeout is no one's to handle
    try {
      const result = await Promise.race([sending, late]);
      if (result === 'timeout') return tryLater(`the mail relay did not answer within ${this.timeoutMs} ms`);
      const rejected = (result as { rejected?: unknown[] }).rejected ?? [];
      if (rejected.length > 0) return failed(`the mail relay refused ${mail.to}`);
      return DELIVERED;
    } catch (error) {
      const e = error as SmtpError;
      const reason = e?.message || 'SMTP error';
      if (typeof e?.responseCode === 'number' && e.responseCode >= 500) return failed(reason);
      return tryLater(reason);
    } finally {
      timer?.cancel();
    }
  }

  close(): void {
    this.transport.close();
  }
}
