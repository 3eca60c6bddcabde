import type { ApiKey, AuthSettings, AuthStrategy, KeystoneSettings, RoleNames } from '../service/index.js';
import { DEFAULT_ROLE_NAMES, KEYSTONE_AUTHTOKEN_KEYS, keystoneSettingsFrom } from '../service/index.js';
import { fail, type Setting, type SettingSources, section, text } from './config-values.js';

/**
 * The authentication settings of `posthorn serve` (read by config.ts):
 *
 *   auth_strategy = "noauth"   # POSTHORN_AUTH_STRATEGY: "noauth" (default), "keystone" or "token"
 *   default_project = "demo"   # POSTHORN_DEFAULT_PROJECT: noauth's project of requests naming none
 *
 *   [keystone_authtoken]       # keystone (keystonemiddleware's names, as written for Zaqar)
 *   auth_url = "http://127.0.0.1:5000/v3"
 *   username = "zaqar"  password = "..."  project_name = "service"
 *   user_domain_name = "Default"  project_domain_name = "Default"  token_cache_time = 300
 *
 *   [token]                    # token: Posthorn's own bearer tokens
 *   secret = "..."             # POSTHORN_TOKEN_SECRET: signs JWTs (HS256), at least 32 characters
 *   [[token.keys]]             # API keys, stored as sha256 (hex) of the key
 *   hash = "9f86d0..."  project = "demo"  roles = ["member"]
 *
 *   [policy]                   # which role names are reader, member and admin
 *   reader_roles = ["reader"]  member_roles = ["member", "_member_"]  admin_roles = ["admin"]
 */
export const AUTH_TOP_KEYS = ['auth_strategy', 'default_project', 'keystone_authtoken', 'token', 'policy'];
export const KEYSTONE_KEYS = KEYSTONE_AUTHTOKEN_KEYS;
export const TOKEN_KEYS = new Set(['secret', 'keys']);
export const TOKEN_KEY_KEYS = new Set(['hash', 'project', 'roles']);
export const POLICY_KEYS = new Set(['reader_roles', 'member_roles', 'admin_roles']);

const STRATEGIES = new Set<AuthStrategy>(['noauth', 'keystone', 'token']);

export interface AuthConfig extends AuthSettings {
  roles: RoleNames;
}

function names(setting: Setting, fallback: readonly string[]): readonly string[] {
  const { value } = setting;
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    fail(setting, 'must be a list of role names');
  }
  return value as string[];
}

export function readAuthConfig(doc: Record<string, unknown>, sources: SettingSources): AuthConfig {
  const strategySetting = sources.pick('auth_strategy', doc.auth_strategy, {
    env: 'POSTHORN_AUTH_STRATEGY',
    fallback: 'noauth',
  });
  const strategy = strategySetting.value as AuthStrategy;
  if (!STRATEGIES.has(strategy)) {
    fail(strategySetting, `must be "noauth", "keystone" or "token", not ${JSON.stringify(strategySetting.value)}`);
  }
  const defaultSetting = sources.pick('default_project', doc.default_project, { env: 'POSTHORN_DEFAULT_PROJECT' });
  const defaultProject = defaultSetting.value === undefined ? null : text(defaultSetting);

  const policy = section(sources.fromFile('policy', doc.policy), POLICY_KEYS);
  const roles: RoleNames = {
    reader: names(sources.fromFile('policy.reader_roles', policy.reader_roles), DEFAULT_ROLE_NAMES.reader),
    member: names(sources.fromFile('policy.member_roles', policy.member_roles), DEFAULT_ROLE_NAMES.member),
    admin: names(sources.fromFile('policy.admin_roles', policy.admin_roles), DEFAULT_ROLE_NAMES.admin),
  };

  const ks = section(sources.fromFile('keystone_authtoken', doc.keystone_authtoken), KEYSTONE_KEYS);
  // The keystone settings are read (and refused, naming the key) only when keystone is the strategy.
  const keystone: KeystoneSettings | null = strategy === 'keystone' ? keystoneSettingsFrom(ks) : null;

  const tokenDoc = section(sources.fromFile('token', doc.token), TOKEN_KEYS);
  const secretSetting = sources.pick('token.secret', tokenDoc.secret, { env: 'POSTHORN_TOKEN_SECRET' });
  let secret: string | null = null;
  if (secretSetting.value !== undefined) {
    // HS256 wants a key as long as its hash (RFC 7518 §3.2); a short one is guessable.
    if (typeof secretSetting.value !== 'string' || secretSetting.value.length < 32) {
      fail(secretSetting, 'must be a string of at least 32 characters');
    }
    secret = secretSetting.value;
  }
  const keys: ApiKey[] = [];
  const keysSetting = sources.fromFile('token.keys', tokenDoc.keys);
  if (keysSetting.value !== undefined) {
    if (!Array.isArray(keysSetting.value)) fail(keysSetting, 'must be a list of tables ([[token.keys]])');
    keysSetting.value.forEach((entry, i) => {
      const key = section(sources.fromFile(`token.keys[${i}]`, entry), TOKEN_KEY_KEYS);
      const hash = sources.fromFile(`token.keys[${i}].hash`, key.hash);
      if (typeof hash.value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash.value)) {
        fail(hash, 'must be the sha256 of the key, 64 hex digits');
      }
      keys.push({
        hash: hash.value.toLowerCase(),
        project: text(sources.fromFile(`token.keys[${i}].project`, key.project)),
        roles: names(sources.fromFile(`token.keys[${i}].roles`, key.roles), []),
      });
    });
  }
  if (strategy === 'token' && secret === null && keys.length === 0) {
    fail(strategySetting, 'is "token", but neither [token] secret nor [[token.keys]] is set: no token could pass');
  }
  return {
    strategy,
    defaultProject,
    keystone,
    token: strategy === 'token' ? { secret, keys } : null,
    roles,
  };
}
