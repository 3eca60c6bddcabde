import { isPlainObject } from '../core/index.js';
import {
  DEFAULT_QUOTA_REFRESH_SECONDS,
  QUOTA_KEYS,
  type QuotaKey,
  type QuotaOverride,
  type QuotaSettings,
} from '../service/index.js';
import { fail, type Setting, type SettingSources, section, whole } from './config-values.js';

/**
 * Per-project quotas (read by config.ts; the admin API at /v2/quotas changes them at run time):
 *
 *   [quotas]                   # absent keys: unlimited
 *   max_queues = 100           # POSTHORN_QUOTA_MAX_QUEUES: queues a project may have
 *   max_messages = 100000      # POSTHORN_QUOTA_MAX_MESSAGES: messages it may hold, all queues together
 *   max_bytes = 104857600      # POSTHORN_QUOTA_MAX_BYTES: bytes of message bodies it may hold
 *   refresh_seconds = 5        # POSTHORN_QUOTA_REFRESH_SECONDS: how long a server trusts what it
 *                              # read of a project's usage (other servers' writes show within it)
 *   [quotas.projects.acme]     # one project's own quotas, over the defaults key by key
 *   max_messages = 1000000
 */
export const QUOTA_CONFIG_KEYS = new Set([...QUOTA_KEYS, 'refresh_seconds', 'projects']);
export const QUOTA_PROJECT_KEYS = new Set<string>(QUOTA_KEYS);

const ENV: Record<QuotaKey, string> = {
  max_queues: 'POSTHORN_QUOTA_MAX_QUEUES',
  max_messages: 'POSTHORN_QUOTA_MAX_MESSAGES',
  max_bytes: 'POSTHORN_QUOTA_MAX_BYTES',
};

export function readQuotaConfig(doc: unknown, sources: SettingSources): QuotaSettings {
  const q = section(sources.fromFile('quotas', doc), QUOTA_CONFIG_KEYS);
  const defaults: Partial<Record<QuotaKey, number>> = {};
  for (const key of QUOTA_KEYS) {
    const setting = sources.pick(`quotas.${key}`, q[key], { env: ENV[key] });
    if (setting.value !== undefined) defaults[key] = whole(setting);
  }
  const refresh = sources.pick('quotas.refresh_seconds', q.refresh_seconds, { env: 'POSTHORN_QUOTA_REFRESH_SECONDS' });
  const projects: Record<string, QuotaOverride> = {};
  if (q.projects !== undefined) {
    const table = sources.fromFile('quotas.projects', q.projects);
    if (!isPlainObject(q.projects)) fail(table, 'must be a table of projects, each a table of quotas');
    for (const [project, entry] of Object.entries(q.projects)) {
      projects[project] = readProject(sources.fromFile(`quotas.projects.${project}`, entry), sources);
    }
  }
  return {
    defaults,
    projects,
    refreshSeconds: refresh.value === undefined ? DEFAULT_QUOTA_REFRESH_SECONDS : seconds(refresh),
  };
}

function readProject(setting: Setting, sources: SettingSources): QuotaOverride {
  const table = section(setting, QUOTA_PROJECT_KEYS);
  if (setting.value === undefined) fail(setting, 'must be a table of quotas');
  const quotas: Partial<Record<QuotaKey, number>> = {};
  for (const key of QUOTA_KEYS) {
    if (table[key] !== undefined) quotas[key] = whole(sources.fromFile(`${setting.key}.${key}`, table[key]));
  }
  return quotas;
}

function seconds(setting: Setting): number {
  const { value } = setting;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 3600) {
    fail(setting, `must be a number of seconds from 0 to 3600, not ${JSON.stringify(value)}`);
  }
  return n;
}
