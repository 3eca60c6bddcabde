import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { fail, type SettingSources, section, text } from './config-values.js';

/**
 * `[tls]`: HTTPS on the HTTP port and WSS on the WebSocket port.
 *
 *   [tls]
 *   cert = "/etc/posthorn/cert.pem"   # POSTHORN_TLS_CERT: the certificate (PEM; its chain after it)
 *   key = "/etc/posthorn/key.pem"     # POSTHORN_TLS_KEY: its private key (PEM, unencrypted)
 *
 * Paths in the file are relative to its folder. The files are read and checked at start — that
 * they are PEM, that the key is the certificate's — so a wrong path or a mismatched pair stops
 * the server with a sentence naming the setting, rather than failing every handshake later.
 */
export interface TlsConfig {
  /** The PEM files as read at start, and where they came from (absolute). */
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

export const TLS_KEYS = new Set(['cert', 'key']);

export function readTlsConfig(doc: unknown, sources: SettingSources, fileDir: string, cwd: string): TlsConfig | null {
  const t = section(sources.fromFile('tls', doc), TLS_KEYS);
  const certSetting = sources.pick('tls.cert', t.cert, { env: 'POSTHORN_TLS_CERT' });
  const keySetting = sources.pick('tls.key', t.key, { env: 'POSTHORN_TLS_KEY' });
  if (certSetting.value === undefined && keySetting.value === undefined) return null;
  if (certSetting.value === undefined) fail(certSetting, 'is missing: tls.key is set, and TLS needs both');
  if (keySetting.value === undefined) fail(keySetting, 'is missing: tls.cert is set, and TLS needs both');
  const read = (setting: typeof certSetting) => {
    const path = resolve(setting.origin.kind === 'file' ? fileDir : cwd, text(setting));
    try {
      return { path, bytes: readFileSync(path) };
    } catch (error) {
      fail(setting, `names a file that cannot be read: ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: error,
      });
    }
  };
  const cert = read(certSetting);
  const key = read(keySetting);
  try {
    new X509Certificate(cert.bytes);
  } catch (error) {
    fail(certSetting, `names ${cert.path}, which is not a PEM certificate`, { cause: error });
  }
  try {
    // Parses the key and checks that it is the certificate's ("key values mismatch" otherwise).
    createSecureContext({ cert: cert.bytes, key: key.bytes });
  } catch (error) {
    fail(keySetting, `names ${key.path}, which is not the private key of ${cert.path} (${(error as Error).message})`, {
      cause: error,
    });
  }
  return { cert: cert.bytes, key: key.bytes, certFile: cert.path, keyFile: key.path };
}
