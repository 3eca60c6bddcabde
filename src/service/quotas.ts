import { isPlainObject } from '../core/index.js';
import { bodyError } from './errors.js';

/**
 * Per-project quotas (issue 13): how many queues a project may have, and how many messages and
 * bytes of message bodies it may hold across all its queues. Topics are not counted: they live in
 * a namespace of their own (namespaces.ts) and Zaqar's quotas never covered them either.
 *
 * Limits come in layers, each setting some keys: the configured defaults, the configuration's
 * table of the project, then what the admin API set for the project. A key a layer leaves out
 * falls through to the one below; a key set to null is unlimited whatever lies below.
 */

export type QuotaKey = 'max_queues' | 'max_messages' | 'max_bytes';

export const QUOTA_KEYS: readonly QuotaKey[] = Object.freeze(['max_queues', 'max_messages', 'max_bytes']);

/** Every quota of a project; null: unlimited. */
export type QuotaLimits = Readonly<Record<QuotaKey, number | null>>;

/** Some quotas of one layer: a number, or null for unlimited; absent keys fall through. */
export type QuotaOverride = Readonly<Partial<Record<QuotaKey, number | null>>>;

/** What a QueueService is told about quotas (the server's `[quotas]`). */
export interface QuotaSettings {
  /** Quotas of every project (absent keys: unlimited). */
  defaults?: QuotaOverride;
  /** Quotas of named projects, over the defaults key by key. */
  projects?: Readonly<Record<string, QuotaOverride>>;
  /**
   * Seconds a server trusts what it read of a project's usage, and of the quotas the admin API
   * set, before reading them again (default 5): what other servers sharing the store wrote is
   * seen within this time.
   */
  refreshSeconds?: number;
}

export const UNLIMITED: QuotaLimits = Object.freeze({ max_queues: null, max_messages: null, max_bytes: null });

export const DEFAULT_QUOTA_REFRESH_SECONDS = 5;

/** The quotas of the layers, later layers winning key by key. */
export function resolveQuotas(layers: ReadonlyArray<QuotaOverride | undefined>): QuotaLimits {
  const limits: Record<QuotaKey, number | null> = { ...UNLIMITED };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const key of QUOTA_KEYS) {
      const value = layer[key];
      if (value !== undefined) limits[key] = value;
    }
  }
  return limits;
}

export function isUnlimited(limits: QuotaLimits): boolean {
  return limits.max_queues === null && limits.max_messages === null && limits.max_bytes === null;
}

/** True when `value` can be a quota: a whole number from 0 up. */
export function isQuotaValue(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Reads a quota document of the admin API (`{"max_queues": 10, "max_bytes": null}`): only quota
 * keys, each a whole number from 0 up or null (unlimited). Refuses anything else as a bad body,
 * before anything is changed.
 */
export function readQuotaDocument(document: unknown): QuotaOverride {
  if (!isPlainObject(document)) {
    throw bodyError('body', `A quota document must be a JSON object of ${QUOTA_KEYS.join(', ')}.`);
  }
  const read: Partial<Record<QuotaKey, number | null>> = {};
  for (const [key, value] of Object.entries(document)) {
    if (!(QUOTA_KEYS as readonly string[]).includes(key)) {
      throw bodyError(key, `${JSON.stringify(key)} is not a quota; the quotas are ${QUOTA_KEYS.join(', ')}.`);
    }
    if (value !== null && !isQuotaValue(value)) {
      throw bodyError(key, `${key} must be a whole number from 0 up, or null for unlimited.`);
    }
    read[key as QuotaKey] = value;
  }
  return read;
}
