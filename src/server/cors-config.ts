import type { CorsPolicy } from '../api/http/cors.js';
import { fail, flag, type Setting, type SettingSources, section, whole } from './config-values.js';

/**
 * `[cors]`: Zaqar's CORS options (oslo.middleware's names). Off until `allowed_origin` names an
 * origin, as in Zaqar.
 *
 *   [cors]
 *   allowed_origin = ["https://app.example.org"]   # POSTHORN_CORS_ALLOWED_ORIGIN (comma-separated)
 *   allow_credentials = true
 *   expose_headers = []
 *   max_age = 3600
 *   allow_methods = ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PATCH"]
 *   allow_headers = ["Content-Type", "Client-ID", "X-Project-ID", ...]
 */
export const CORS_KEYS = new Set([
  'allowed_origin',
  'allow_credentials',
  'expose_headers',
  'max_age',
  'allow_methods',
  'allow_headers',
]);

/** Zaqar's (oslo.middleware's) default methods. */
export const DEFAULT_CORS_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'PATCH'];
/**
 * oslo's default is none beyond the simple headers, which leaves a browser unable to send any
 * Zaqar request (they all carry Client-ID); the default here is the headers Zaqar's API reads.
 */
export const DEFAULT_CORS_HEADERS = [
  'Content-Type',
  'Client-ID',
  'X-Project-ID',
  'X-Auth-Token',
  'URL-Signature',
  'URL-Expires',
  'URL-Methods',
  'URL-Paths',
  'Idempotency-Key',
];

function names(setting: Setting, what: string): string[] {
  const { value } = setting;
  const list =
    typeof value === 'string' && setting.origin.kind === 'env'
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '')
      : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v.trim() === '')) {
    fail(setting, `must be a list of ${what}`);
  }
  return list as string[];
}

export function readCorsConfig(doc: unknown, sources: SettingSources): CorsPolicy | null {
  const c = section(sources.fromFile('cors', doc), CORS_KEYS);
  const setting = (key: string, options: { env?: string; fallback?: unknown } = {}) =>
    sources.pick(`cors.${key}`, c[key], options);
  const originSetting = setting('allowed_origin', { env: 'POSTHORN_CORS_ALLOWED_ORIGIN', fallback: [] });
  const allowedOrigins = names(originSetting, 'origins');
  for (const origin of allowedOrigins) {
    if (origin === '*') continue;
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    // An Origin header is exactly scheme://host[:port]: anything else would never match.
    if (parsed === null || parsed.origin !== origin) {
      fail(
        originSetting,
        `must be a list of origins like "https://app.example.org" (no path, no trailing slash), not ${JSON.stringify(origin)}`,
      );
    }
  }
  const policy: CorsPolicy = {
    allowedOrigins,
    allowCredentials: flag(setting('allow_credentials', { fallback: true })),
    exposeHeaders: names(setting('expose_headers', { fallback: [] }), 'header names'),
    maxAge: whole(setting('max_age', { fallback: 3600 }), 0, 86_400 * 365),
    allowMethods: names(setting('allow_methods', { fallback: DEFAULT_CORS_METHODS }), 'methods').map((m) =>
      m.toUpperCase(),
    ),
    allowHeaders: names(setting('allow_headers', { fallback: DEFAULT_CORS_HEADERS }), 'header names'),
  };
  return allowedOrigins.length === 0 ? null : policy;
}
