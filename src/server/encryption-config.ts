import { InvalidArgumentError } from '../core/index.js';
import { type EncryptionKey, type KeyRing, readEncryptionKey } from '../service/index.js';
import { fail, type Setting, type SettingSources, section, text } from './config-values.js';

/**
 * The keys of encryption at rest (read by config.ts):
 *
 *   [encryption]               # bodies of queues with _enable_encrypt_messages: AES-256-GCM
 *   key = "…"                  # POSTHORN_ENCRYPTION_KEY: base64 of 32 bytes (`openssl rand -base64 32`)
 *   key_id = "2026-12"         # POSTHORN_ENCRYPTION_KEY_ID; default: first 8 hex of the key's SHA-256
 *   old_keys = ["…", { key = "…", key_id = "2026-06" }]
 *                              # POSTHORN_ENCRYPTION_OLD_KEYS (comma-separated base64): keys that
 *                              # still decrypt what they encrypted; list the previous key here to rotate
 *
 * A bad key refuses the start, naming the setting: a server that cannot read its keys must not
 * come up and store in plain text, or fail every read later.
 */
export const ENCRYPTION_KEYS = new Set(['key', 'key_id', 'old_keys']);

export function readEncryptionConfig(doc: unknown, sources: SettingSources): KeyRing {
  const e = section(sources.fromFile('encryption', doc), ENCRYPTION_KEYS);
  const keySetting = sources.pick('encryption.key', e.key, { env: 'POSTHORN_ENCRYPTION_KEY' });
  const idSetting = sources.pick('encryption.key_id', e.key_id, { env: 'POSTHORN_ENCRYPTION_KEY_ID' });
  if (keySetting.value === undefined && idSetting.value !== undefined) fail(idSetting, 'needs encryption.key');
  const current =
    keySetting.value === undefined
      ? null
      : key(keySetting, idSetting.value === undefined ? undefined : text(idSetting));

  const oldSetting = sources.pick('encryption.old_keys', e.old_keys, { env: 'POSTHORN_ENCRYPTION_OLD_KEYS' });
  const listed =
    oldSetting.value === undefined
      ? []
      : typeof oldSetting.value === 'string' && oldSetting.origin.kind === 'env'
        ? oldSetting.value.split(',').map((k) => k.trim())
        : oldSetting.value;
  if (!Array.isArray(listed)) fail(oldSetting, 'must be a list of keys (base64, or { key, key_id } tables)');
  const old = listed.map((item: unknown, i): EncryptionKey => {
    const entry: Setting = { ...oldSetting, key: `encryption.old_keys[${i}]`, value: item };
    if (typeof item === 'string') return key(entry);
    const table = section(entry, new Set(['key', 'key_id']));
    const id =
      table.key_id === undefined ? undefined : text({ ...entry, key: `${entry.key}.key_id`, value: table.key_id });
    return key({ ...entry, key: `${entry.key}.key`, value: table.key }, id);
  });
  const ids = new Map<string, string>();
  for (const [i, k] of [...(current ? [current] : []), ...old].entries()) {
    const seen = ids.get(k.id);
    if (seen !== undefined && seen !== k.key.toString('base64')) {
      fail(
        oldSetting,
        `holds two different keys with the key id ${JSON.stringify(k.id)} (entry ${i}); give each its own key_id`,
      );
    }
    ids.set(k.id, k.key.toString('base64'));
  }
  return { current, old };
}

function key(setting: Setting, id?: string): EncryptionKey {
  const value = text(setting);
  try {
    return readEncryptionKey(value, setting.key, id);
  } catch (error) {
    if (error instanceof InvalidArgumentError) fail(setting, error.reason, { cause: error });
    throw error;
  }
}
