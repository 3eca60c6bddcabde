import { isPlainObject } from '../core/index.js';
import { DEFAULT_REFUSAL_DELAY_MS, type FairShareLimits, type RateLimit } from '../service/index.js';
import { fail, type Setting, type SettingSources, section, whole } from './config-values.js';

/**
 * `[fair_share]`: per-project rates of requests and of posted messages (service/fair-share.ts).
 * Off while no rate is set: every project is then unlimited and nothing is counted.
 *
 *   [fair_share]
 *   requests_per_second = 50     # POSTHORN_FAIR_SHARE_REQUESTS_PER_SECOND: each project's rate
 *   request_burst = 100          # POSTHORN_FAIR_SHARE_REQUEST_BURST: most at once (default: one second's)
 *   messages_per_second = 500    # POSTHORN_FAIR_SHARE_MESSAGES_PER_SECOND
 *   message_burst = 1000         # POSTHORN_FAIR_SHARE_MESSAGE_BURST
 *   refusal_delay_ms = 1000      # POSTHORN_FAIR_SHARE_REFUSAL_DELAY_MS: a 429 is held half to all of it (at most its Retry-After)
 *
 *   [fair_share.projects.acme]   # one project's own limits, as [quotas.projects.acme] are
 *   requests_per_second = 500    # what it leaves out is the defaults'
 *
 * A project id that is not a TOML bare key is quoted: `[fair_share.projects."tenant/1"]`.
 */
export const FAIR_SHARE_KEYS = new Set([
  'requests_per_second',
  'request_burst',
  'messages_per_second',
  'message_burst',
  'refusal_delay_ms',
  'projects',
]);
export const FAIR_SHARE_PROJECT_KEYS = new Set([
  'requests_per_second',
  'request_burst',
  'messages_per_second',
  'message_burst',
]);

/** What `[fair_share]` sets: the FairShare's options without a clock. */
export interface FairShareConfig {
  defaults: FairShareLimits;
  projects: Map<string, FairShareLimits>;
  refusalDelayMs: number;
}

const KINDS = [
  { kind: 'requests', rate: 'requests_per_second', burst: 'request_burst' },
  { kind: 'messages', rate: 'messages_per_second', burst: 'message_burst' },
] as const;

/** A rate: a positive number (fractions allowed: 0.5 is one every two seconds). */
function rate(setting: Setting): number {
  const { value } = setting;
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    fail(setting, `must be a positive number (per second), not ${JSON.stringify(value)}`);
  }
  return n;
}

/** A burst: a number of at least 1 (whole or not: the bucket's size in tokens). */
function burst(setting: Setting): number {
  const n = rate(setting);
  if (n < 1) fail(setting, `must be at least 1, not ${JSON.stringify(setting.value)}`);
  return n;
}

/** One second's worth, and at least one: a bucket must hold a whole request. */
function defaultBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond));
}

export function readFairShareConfig(doc: unknown, sources: SettingSources): FairShareConfig | null {
  const f = section(sources.fromFile('fair_share', doc), FAIR_SHARE_KEYS);
  const defaults: FairShareLimits = {};
  for (const { kind, rate: rateKey, burst: burstKey } of KINDS) {
    const env = (key: string) => `POSTHORN_FAIR_SHARE_${key.toUpperCase()}`;
    const rateSetting = sources.pick(`fair_share.${rateKey}`, f[rateKey], { env: env(rateKey) });
    const burstSetting = sources.pick(`fair_share.${burstKey}`, f[burstKey], { env: env(burstKey) });
    if (rateSetting.value === undefined) {
      if (burstSetting.value !== undefined) fail(burstSetting, `needs fair_share.${rateKey} to be set`);
      continue;
    }
    const perSecond = rate(rateSetting);
    defaults[kind] = {
      perSecond,
      burst: burstSetting.value === undefined ? defaultBurst(perSecond) : burst(burstSetting),
    };
  }
  const projects = new Map<string, FairShareLimits>();
  if (f.projects !== undefined) {
    const table = sources.fromFile('fair_share.projects', f.projects);
    if (!isPlainObject(f.projects)) fail(table, 'must be a table of projects, each a table of limits');
    for (const [project, entry] of Object.entries(f.projects)) {
      const key = `fair_share.projects.${project}`;
      const setting = sources.fromFile(key, entry);
      if (!isPlainObject(entry)) fail(setting, 'must be a table of limits');
      const p = section(setting, FAIR_SHARE_PROJECT_KEYS);
      const limits: FairShareLimits = {};
      for (const { kind, rate: rateKey, burst: burstKey } of KINDS) {
        const rateSetting = sources.fromFile(`${key}.${rateKey}`, p[rateKey]);
        const burstSetting = sources.fromFile(`${key}.${burstKey}`, p[burstKey]);
        if (rateSetting.value === undefined && burstSetting.value === undefined) continue;
        const fallback = defaults[kind];
        if (rateSetting.value === undefined && !fallback) {
          fail(burstSetting, `needs ${key}.${rateKey} or fair_share.${rateKey} to be set`);
        }
        const perSecond = rateSetting.value === undefined ? (fallback as RateLimit).perSecond : rate(rateSetting);
        // Its own rate without its own burst: one second of its own rate, not the default's burst.
        const ownBurst =
          burstSetting.value !== undefined
            ? burst(burstSetting)
            : rateSetting.value !== undefined
              ? defaultBurst(perSecond)
              : (fallback as RateLimit).burst;
        limits[kind] = { perSecond, burst: ownBurst };
      }
      projects.set(project, limits);
    }
  }
  const refusalDelayMs = whole(
    sources.pick('fair_share.refusal_delay_ms', f.refusal_delay_ms, {
      env: 'POSTHORN_FAIR_SHARE_REFUSAL_DELAY_MS',
      fallback: DEFAULT_REFUSAL_DELAY_MS,
    }),
    0,
    60_000,
  );
  const on = defaults.requests !== undefined || defaults.messages !== undefined || projects.size > 0;
  return on ? { defaults, projects, refusalDelayMs } : null;
}
