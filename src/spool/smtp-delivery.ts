import type { DeliveryFunction, DeliveryReport, RecipientOutcome } from './types.js';

/** Where a section of mail goes: an SMTP relay. Defaults come from smtpDelivery's options. */
export interface SmtpHop {
  host?: string;
  port?: number;
  secure?: boolean;
}

export interface SmtpDeliveryOptions extends SmtpHop {
  /** Name given in EHLO. */
  name?: string;
  auth?: { user: string; pass: string };
  /** Passed to Node's TLS (e.g. `{ rejectUnauthorized: false }` for a test relay). */
  tls?: Record<string, unknown>;
  /** Refuse to send without STARTTLS; default false. */
  requireTLS?: boolean;
  connectionTimeoutMs?: number;
}

interface SmtpError extends Error {
  responseCode?: number;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

/**
 * A delivery function that relays mail over SMTP with nodemailer and reports per recipient as a
 * mail operator expects: accepted recipients are delivered, a 4xx reply is try-later, a 5xx
 * reply is failed for good (async_smtp's default). A section's `nextHop` (SmtpHop) overrides the
 * relay. Headers go first, then the body, as a raw RFC 5322 message.
 */
export function smtpDelivery(options: SmtpDeliveryOptions = {}): DeliveryFunction<SmtpHop | null> {
  return async ({ envelope, nextHop, signal }) => {
    const hop = { ...options, ...(nextHop ?? {}) };
    // Loaded at the first delivery, not with the package: most users of the library send no mail.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: hop.host ?? '127.0.0.1',
      port: hop.port ?? 25,
      secure: hop.secure ?? false,
      name: options.name,
      auth: options.auth,
      tls: options.tls,
      requireTLS: options.requireTLS ?? false,
      ignoreTLS: !(options.requireTLS ?? false) && !(hop.secure ?? false) && options.tls === undefined,
      connectionTimeout: options.connectionTimeoutMs ?? 30_000,
      greetingTimeout: options.connectionTimeoutMs ?? 30_000,
      socketTimeout: options.connectionTimeoutMs ?? 60_000,
    });
    const abort = () => transport.close();
    signal.addEventListener('abort', abort, { once: true });
    const head = envelope.headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
    try {
      const info = await transport.sendMail({
        envelope: { from: envelope.sender, to: envelope.recipients },
        raw: Buffer.concat([Buffer.from(`${head}\r\n`, 'utf8'), envelope.body]),
      });
      const report = new Map<string, RecipientOutcome>();
      const accepted = new Set((info.accepted as (string | { address: string })[]).map(addressOf));
      for (const r of envelope.recipients) if (accepted.has(r.toLowerCase())) report.set(r, 'delivered');
      for (const e of ((info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []) as SmtpError[]) {
        const r = envelope.recipients.find((x) => x.toLowerCase() === (e.recipient ?? '').toLowerCase());
        if (r) report.set(r, outcomeOf(e));
      }
      return report satisfies DeliveryReport;
    } catch (error) {
      const e = error as SmtpError;
      const report = new Map<string, RecipientOutcome>();
      for (const rejected of e.rejectedErrors ?? []) {
        const r = envelope.recipients.find((x) => x.toLowerCase() === (rejected.recipient ?? '').toLowerCase());
        if (r) report.set(r, outcomeOf(rejected));
      }
      // Whatever no per-recipient reply covers shares the session's fate.
      for (const r of envelope.recipients) if (!report.has(r)) report.set(r, outcomeOf(e));
      return report;
    } finally {
      signal.removeEventListener('abort', abort);
      transport.close();
    }
  };
}

function addressOf(value: string | { address: string }): string {
  return (typeof value === 'string' ? value : value.address).toLowerCase();
}

function outcomeOf(error: SmtpError): RecipientOutcome {
  const reason = error.message || 'SMTP error';
  if (typeof error.responseCode === 'number' && error.responseCode >= 500) return { status: 'failed', reason };
  return { status: 'try-later', reason };
}
