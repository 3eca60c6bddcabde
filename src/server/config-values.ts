import { InvalidArgumentError, isPlainObject } from '../core/index.js';

/**
 * Readers of single settings, shared by every part of the server's configuration. A value comes
 * from the config file (typed), from an environment variable (a string) or from a flag of
 * `posthorn serve`, so numbers and flags accept both. Anything else is an InvalidArgumentError
 * (field `config <key>`) whose message says where to fix it: "setting 'port' in bad.toml must
 * be ...", "environment variable POSTHORN_PORT must be ...", "--port must be ...".
 */

/** Where a setting's value came from. */
export type SettingOrigin =
  /** The config file, as people should read its name; null when there is none (a default). */
  | { readonly kind: 'file'; readonly file: string | null }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string };

export interface Setting {
  /** The setting's key in the file: `port`, `limits.max_messages_per_page`, `pooling.pools[0].uri`. */
  readonly key: string;
  readonly value: unknown;
  readonly origin: SettingOrigin;
}

/** The places one configuration is read from: the file and the environment. */
export class SettingSources {
  constructor(
    /** The config file's name as people should read it, or null when there is none. */
    readonly file: string | null,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A value the file holds (or a table of it, or an entry of a list). */
  fromFile(key: string, value: unknown): Setting {
    return { key, value, origin: { kind: 'file', file: this.file } };
  }

  /**
   * Setting `key`: the flag when it was given, else environment variable `env` when it is set and
   * not empty, else what the file holds (`inFile`), else `fallback`.
   */
  pick(
    key: string,
    inFile: unknown,
    options: { env?: string; flag?: { name: string; value: unknown }; fallback?: unknown } = {},
  ): Setting {
    if (options.flag !== undefined && options.flag.value !== undefined) {
      return { key, value: options.flag.value, origin: { kind: 'flag', name: options.flag.name } };
    }
    const fromEnvironment = options.env === undefined ? undefined : fromEnv(this.env, options.env);
    if (options.env !== undefined && fromEnvironment !== undefined) {
      return { key, value: fromEnvironment, origin: { kind: 'env', name: options.env } };
    }
    return this.fromFile(key, inFile ?? options.fallback);
  }
}

/** An environment variable's value; unset and empty are both undefined (so the file's value or the default applies). */
export function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Where to fix a setting, as an error's first words. */
function place(setting: Setting): string {
  const { origin, key } = setting;
  switch (origin.kind) {
    case 'env':
      return `environment variable ${origin.name}`;
    case 'flag':
      return origin.name;
    case 'file':
      if (key === '') return origin.file ?? 'the configuration';
      return origin.file === null ? `setting '${key}'` : `setting '${key}' in ${origin.file}`;
  }
}

/** Refuses a setting; `reason` continues the sentence: "must be a whole number...". */
export function fail(setting: Setting, reason: string, options: { cause?: unknown } = {}): never {
  throw new InvalidArgumentError(`config ${setting.key || 'file'}`, reason, {
    message: `${place(setting)} ${reason}`,
    ...options,
  });
}

/** A table whose keys must all be known settings; absent is an empty table. */
export function section(setting: Setting, known: Set<string> | Map<string, unknown>): Record<string, unknown> {
  const { value, key } = setting;
  if (value === undefined) return {};
  if (!isPlainObject(value))
    fail(setting, key === '' ? 'must hold a table of settings' : 'must be a table of settings');
  for (const name of Object.keys(value)) {
    if (known.has(name)) continue;
    const full = key === '' ? name : `${key}.${name}`;
    const file = setting.origin.kind === 'file' ? setting.origin.file : null;
    throw new InvalidArgumentError(`config ${full}`, 'is not a setting Posthorn knows', {
      message: `unknown setting '${full}'${file === null ? '' : ` in ${file}`}`,
    });
  }
  return value;
}

export function text(setting: Setting): string {
  const { value } = setting;
  if (typeof value !== 'string' || value === '')
    fail(setting, `must be a non-empty string, not ${JSON.stringify(value)}`);
  return value;
}

export function flag(setting: Setting): boolean {
  const { value } = setting;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  fail(setting, `must be true or false, not ${JSON.stringify(value)}`);
}

/** A whole number from min to max (a string of digits counts, as environment variables are). */
export function whole(setting: Setting, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const { value } = setting;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    fail(setting, `must be a whole number ${range}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** A port number (0 to 65535; 0 picks a free one), from a number or a string of digits. */
export function port(setting: Setting): number {
  const { value } = setting;
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65_535) {
    fail(setting, `must be a port number (0 to 65535), not ${JSON.stringify(value)}`);
  }
  return n;
}
