import { InvalidArgumentError } from '../../core/index.js';

/**
 * The `[keystone_authtoken]` settings, named as OpenStack operators already write them for
 * Zaqar's keystonemiddleware, so an existing section can be copied over unchanged.
 */
export interface KeystoneSettings {
  /** Keystone's public URL (`http://keystone:5000` or `…/v3`); the v3 API is used either way. */
  authUrl: string;
  /** Posthorn's own service user, which validates the callers' tokens. */
  username: string;
  password: string;
  /** The project the service token is scoped to (usually `service`). */
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  /** Seconds a validated token is trusted without asking keystone again; 0 (or -1): never cached. */
  tokenCacheSeconds: number;
  /** The URI clients are sent to in `WWW-Authenticate: Keystone uri="…"` (default: authUrl). */
  wwwAuthenticateUri?: string;
  /** Seconds one request to keystone may take (connect, answer, body) before it counts as down. */
  timeoutSeconds?: number;
}

/** The keys `[keystone_authtoken]` may hold (for the config reader's unknown-key check). */
export const KEYSTONE_AUTHTOKEN_KEYS = new Set([
  'auth_url',
  'auth_type',
  'username',
  'password',
  'project_name',
  'user_domain_name',
  'project_domain_name',
  'token_cache_time',
  'www_authenticate_uri',
  'http_connect_timeout',
]);

const SECTION = 'keystone_authtoken';
/** keystonemiddleware's default token_cache_time. */
const DEFAULT_CACHE_SECONDS = 300;
/** Bounded, a few seconds: a keystone that does not answer makes requests wait this long, then 503. */
const DEFAULT_TIMEOUT_SECONDS = 5;

function bad(key: string, reason: string): never {
  throw new InvalidArgumentError(`${SECTION}.${key}`, reason);
}

function text(section: Record<string, unknown>, key: string, fallback?: string): string {
  const value = section[key];
  if (value === undefined || value === null || value === '') {
    if (fallback !== undefined) return fallback;
    bad(key, 'is required when auth_strategy is "keystone"');
  }
  if (typeof value !== 'string') bad(key, `must be a string, not ${JSON.stringify(value)}`);
  return value;
}

/** A whole number of seconds; environment variables and INI-style files give strings. */
function seconds(section: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const raw = section[key];
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > 86_400) {
    bad(key, `must be a whole number of seconds from ${min} to 86400, not ${JSON.stringify(raw)}`);
  }
  return n;
}

function url(section: Record<string, unknown>, key: string, fallback?: string): string {
  const value = text(section, key, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    bad(key, `must be an http(s) URL, not ${JSON.stringify(value)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    bad(key, `must be an http(s) URL, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Reads a `[keystone_authtoken]` section (TOML table or environment values) into settings. Every
 * bad or unknown key is an InvalidArgumentError that names it, so the server refuses to start
 * rather than run with a half-read identity configuration.
 */
export function keystoneSettingsFrom(section: Record<string, unknown>): KeystoneSettings {
  for (const key of Object.keys(section)) {
    if (!KEYSTONE_AUTHTOKEN_KEYS.has(key)) {
      bad(key, `is not a setting (known: ${[...KEYSTONE_AUTHTOKEN_KEYS].join(', ')})`);
    }
  }
  // keystonemiddleware loads any keystoneauth plugin; Posthorn speaks the password method only.
  const authType = text(section, 'auth_type', 'password');
  if (authType !== 'password') bad('auth_type', `only "password" is supported, not ${JSON.stringify(authType)}`);
  const authUrl = url(section, 'auth_url');
  const cache = seconds(section, 'token_cache_time', DEFAULT_CACHE_SECONDS, -1);
  return {
    authUrl,
    username: text(section, 'username'),
    password: text(section, 'password'),
    projectName: text(section, 'project_name'),
    userDomainName: text(section, 'user_domain_name', 'Default'),
    projectDomainName: text(section, 'project_domain_name', 'Default'),
    tokenCacheSeconds: Math.max(0, cache),
    wwwAuthenticateUri: url(section, 'www_authenticate_uri', authUrl),
    timeoutSeconds: seconds(section, 'http_connect_timeout', DEFAULT_TIMEOUT_SECONDS, 1),
  };
}
