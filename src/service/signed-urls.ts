import { createHmac, timingSafeEqual } from 'node:crypto';
import { isPlainObject } from '../core/index.js';
import { apiError, bodyError } from './errors.js';

/**
 * Pre-signed URLs (Zaqar's queue "share"): a project signs a set of paths and methods until a
 * moment, and hands the signature to someone who then presents it in the `URL-Signature`,
 * `URL-Expires`, `URL-Methods` and `URL-Paths` headers.
 *
 * The signature is computed exactly as Zaqar computes it (zaqar/common/urls.py), so URLs signed by
 * either server verify on the other given the same secret: hex HMAC-SHA256 over
 * `<paths sorted, joined by ",">\n<methods sorted, joined by ",">\n<project>\n<expires>` where each
 * `\n` is the two characters backslash and "n" (Zaqar builds the text from a raw string), and
 * `expires` is UTC formatted as YYYY-MM-DDTHH:MM:SS.
 */

export interface SignedUrl {
  paths: string[];
  methods: string[];
  project: string;
  expires: string;
  signature: string;
}

/** Resources under a queue that a URL may be signed for. */
export const SIGNABLE_RESOURCES: ReadonlySet<string> = new Set(['messages', 'subscriptions', 'claims']);
const SHARE_KEYS = new Set(['paths', 'methods', 'expires']);
const DAY_MS = 86_400_000;

/** Formats a moment the way signatures carry it: UTC, whole seconds, no zone. */
export function formatExpires(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

/** The same with a "Z": how Zaqar writes the times of stats and subscriptions. */
export function isoSeconds(ms: number): string {
  return `${formatExpires(ms)}Z`;
}

const ISO_DATE =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Reads an ISO 8601 date the way Zaqar's parse_isotime does (a date, optional time, optional
 * fraction and zone; no zone means UTC). Returns milliseconds since the epoch, or null.
 */
export function parseIsoDate(text: string): number | null {
  const m = ISO_DATE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  // Date.UTC rolls 2026-02-30 over to March; a real parser refuses it.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23) return null;
  if (Number(mi) > 59 || Number(s) > 59) return null;
  let offset = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')) * 60_000;
  }
  const fraction = frac ? Number(`0.${frac}`) * 1000 : 0;
  return ms - offset + fraction;
}

function signatureOf(secret: string, paths: string[], methods: string[], project: string, expires: string): string {
  return createHmac('sha256', secret)
    .update(`${paths.join(',')}\\n${methods.join(',')}\\n${project}\\n${expires}`)
    .digest('hex');
}

/**
 * Signs paths and methods for a project (Zaqar's create_signed_url). `expires` is an ISO date or
 * omitted (then a day from now); integers are refused, as are moments already past.
 */
export function signUrl(options: {
  secret: string;
  paths: string[];
  methods?: string[];
  project: string;
  expires?: unknown;
  now: number;
}): SignedUrl {
  const methods = [...(options.methods && options.methods.length > 0 ? options.methods : ['GET'])].sort();
  const paths = [...options.paths].sort();
  let expiresMs: number;
  if (options.expires === undefined || options.expires === null) {
    expiresMs = options.now + DAY_MS;
  } else {
    const raw = options.expires;
    if (typeof raw !== 'string' || /^\s*[+-]?\d+\s*$/.test(raw)) {
      throw apiError('expires', 'expires must be a date such as 2016-01-01T00:00:00, not a number.');
    }
    const parsed = parseIsoDate(raw);
    if (parsed === null) throw apiError('expires', `expires is not an ISO 8601 date: ${JSON.stringify(raw)}.`);
    expiresMs = parsed;
  }
  if (expiresMs <= options.now) throw apiError('expires', 'expires must be later than the current time.');
  const expires = formatExpires(expiresMs);
  return {
    paths,
    methods,
    project: options.project,
    expires,
    signature: signatureOf(options.secret, paths, methods, options.project, expires),
  };
}

/**
 * Reads a share request document (`{"paths"?, "methods"?, "expires"?}`) for the queue whose
 * resources live under `queuePath` (e.g. /v2/queues/q) and signs it.
 */
export function shareQueue(
  document: unknown,
  options: { secret: string | null; queuePath: string; project: string; now: number },
): SignedUrl {
  if (!isPlainObject(document)) throw bodyError('body', 'The request body must be a JSON object.');
  const unknown = Object.keys(document).filter((key) => !SHARE_KEYS.has(key));
  if (unknown.length > 0) throw apiError('body', `Unknown keys: ${unknown.join(', ')}.`);
  if (options.secret === null) {
    throw apiError('secret', 'Pre-signed URLs are disabled: the server has no signed_url secret_key configured.');
  }
  let resources: string[] = ['messages'];
  const paths = document.paths;
  if (paths !== undefined && paths !== null && !(Array.isArray(paths) && paths.length === 0)) {
    if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string')) {
      throw apiError('paths', 'paths must be a list of resource names.');
    }
    const invalid = paths.filter((p) => !SIGNABLE_RESOURCES.has(p));
    if (invalid.length > 0) {
      throw apiError('paths', `Invalid paths: ${invalid.join(', ')} (allowed: messages, subscriptions, claims).`);
    }
    resources = paths as string[];
  }
  const methods = document.methods;
  if (methods !== undefined && methods !== null) {
    if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
      throw apiError('methods', 'methods must be a list of HTTP methods.');
    }
  }
  return signUrl({
    secret: options.secret,
    paths: [...new Set(resources)].map((resource) => `${options.queuePath}/${resource}`),
    methods: (methods as string[] | undefined) ?? undefined,
    project: options.project,
    expires: document.expires,
    now: options.now,
  });
}

/** What a request presents to be let through on a signature. */
export interface PresentedSignature {
  signature: string;
  expires: string | undefined;
  /** The URL-Methods header, comma-separated. */
  methods: string | undefined;
  /** The URL-Paths header, comma-separated. */
  paths: string | undefined;
  project: string | undefined;
  /** The request's method and path. */
  method: string;
  path: string;
}

/**
 * True when the presented signature is valid now for this method and path (Zaqar's
 * verify_pre_signed_url): the method is among the signed ones, the path is under a signed path,
 * the moment has not passed, and the HMAC matches.
 */
export function verifySignature(presented: PresentedSignature, secret: string | null, now: number): boolean {
  if (secret === null) return false;
  const methods = (presented.methods ?? '').split(',');
  const paths = (presented.paths ?? '').split(',');
  if (!methods.includes(presented.method)) return false;
  if (!paths.some((p) => p !== '' && presented.path.includes(p))) return false;
  let signed: SignedUrl;
  try {
    signed = signUrl({
      secret,
      paths,
      methods,
      project: presented.project ?? 'None',
      expires: presented.expires,
      now,
    });
  } catch {
    return false;
  }
  const expected = Buffer.from(signed.signature);
  const given = Buffer.from(presented.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
