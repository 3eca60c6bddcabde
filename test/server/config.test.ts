import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig } from '../../src/server/index.js';

describe('server: configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to 127.0.0.1:8888, ./data on disk, strict UUID client ids, no signing secret', () => {
    const config = loadServerConfig({ env: {}, cwd: dir });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8888);
    assert.equal(config.wsPort, 9000);
    assert.equal(config.data, join(dir, 'data'));
    assert.equal(config.store, 'disk');
    assert.equal(config.clientIds.mode, 'strict');
    assert.equal(config.signedUrlSecret, null);
    assert.equal(config.enableChecksum, false);
    assert.equal(config.messageDeleteWithClaimId, false);
    assert.equal(config.limits.maxMessagesPostSize, 262144);
    assert.equal(config.file, null);
  });

  it('reads posthorn.toml from the folder, data relative to the file; env overrides the file, flags override env', () => {
    const folder = mkdtempSync(join(dir, 'toml-'));
    writeFileSync(
      join(folder, 'posthorn.toml'),
      [
        'host = "0.0.0.0"',
        'port = 9999',
        'data = "queues"',
        'log_level = "warn"',
        'enable_checksum = true',
        '[transport]',
        'client_id_uuid_safe = "off"',
        'min_length_client_id = 4',
        'message_delete_with_claim_id = true',
        '[signed_url]',
        'secret_key = "from-file"',
        '[limits]',
        'max_messages_per_page = 50',
        'default_message_ttl = 600',
      ].join('\n'),
    );
    const fromFile = loadServerConfig({ env: {}, cwd: folder });
    assert.equal(fromFile.file, join(folder, 'posthorn.toml'));
    assert.equal(fromFile.host, '0.0.0.0');
    assert.equal(fromFile.port, 9999);
    assert.equal(fromFile.data, join(folder, 'queues'));
    assert.equal(fromFile.logLevel, 'warn');
    assert.equal(fromFile.enableChecksum, true);
    assert.deepEqual(fromFile.clientIds, { mode: 'off', minLength: 4, maxLength: 36 });
    assert.equal(fromFile.messageDeleteWithClaimId, true);
    assert.equal(fromFile.signedUrlSecret, 'from-file');
    assert.equal(fromFile.limits.maxMessagesPerPage, 50);
    assert.equal(fromFile.limits.defaultMessageTtl, 600);

    const env = { POSTHORN_PORT: '7000', POSTHORN_SIGNED_URL_SECRET_KEY: 'from-env', POSTHORN_DATA: 'elsewhere' };
    const fromEnv = loadServerConfig({ env, cwd: folder });
    assert.equal(fromEnv.port, 7000);
    assert.equal(fromEnv.signedUrlSecret, 'from-env');
    assert.equal(fromEnv.data, join(folder, 'elsewhere'));
    assert.equal(fromEnv.host, '0.0.0.0', 'what env does not set comes from the file');

    const fromFlags = loadServerConfig({
      env,
      cwd: folder,
      flags: { port: '0', host: '127.0.0.2', wsPort: '9100', data: '/tmp/x' },
    });
    assert.equal(fromFlags.port, 0);
    assert.equal(fromFlags.host, '127.0.0.2');
    assert.equal(fromFlags.wsPort, 9100);
    assert.equal(fromFlags.data, '/tmp/x');
  });

  it('reads a JSON file named by --config or POSTHORN_CONFIG', () => {
    const file = join(dir, 'custom.json');
    writeFileSync(file, JSON.stringify({ port: 1234, store: 'memory', limits: { max_queue_name_length: 32 } }));
    const byFlag = loadServerConfig({ env: {}, cwd: '/', flags: { config: file } });
    assert.equal(byFlag.port, 1234);
    assert.equal(byFlag.store, 'memory');
    assert.equal(byFlag.limits.maxQueueNameLength, 32);
    assert.equal(loadServerConfig({ env: { POSTHORN_CONFIG: file }, cwd: '/' }).port, 1234);
  });

  it('refuses unknown settings, bad values and a named file that is missing, naming the key and the file', () => {
    // The file is named as the command line named it: relative to the working folder.
    const cases: [string, string][] = [
      ['{"prot": 1}', "unknown setting 'prot' in custom-bad.json"],
      ['{"port": 70000}', "setting 'port' in custom-bad.json must be a port number (0 to 65535), not 70000"],
      ['{"port": "eighty"}', 'setting \'port\' in custom-bad.json must be a port number (0 to 65535), not "eighty"'],
      ['{"store": "tape"}', 'setting \'store\' in custom-bad.json must be "disk" or "memory", not "tape"'],
      [
        '{"log_level": "loud"}',
        'setting \'log_level\' in custom-bad.json must be one of trace, debug, info, warn, error, fatal, silent, not "loud"',
      ],
      [
        '{"transport": {"client_id_uuid_safe": "sometimes"}}',
        'setting \'transport.client_id_uuid_safe\' in custom-bad.json must be "strict" or "off", not "sometimes"',
      ],
      [
        '{"transport": {"min_length_client_id": 40}}',
        "setting 'transport.min_length_client_id' in custom-bad.json must be at most transport.max_length_client_id (36), not 40",
      ],
      ['{"transport": [1]}', "setting 'transport' in custom-bad.json must be a table of settings"],
      [
        '{"limits": {"max_messages_per_pages": 5}}',
        "unknown setting 'limits.max_messages_per_pages' in custom-bad.json",
      ],
      [
        '{"limits": {"max_messages_per_page": "x"}}',
        'setting \'limits.max_messages_per_page\' in custom-bad.json must be a whole number of at least 0, not "x"',
      ],
      [
        '{"limits": {"min_message_ttl": 100, "default_message_ttl": 60}}',
        "setting 'limits' in custom-bad.json must keep min_message_ttl (100) <= default_message_ttl (60) <= max_message_ttl (1209600)",
      ],
      [
        '{"signed_url": {"secret_key": ""}}',
        'setting \'signed_url.secret_key\' in custom-bad.json must be a non-empty string, not ""',
      ],
      ['[1]', 'custom-bad.json must hold a table of settings'],
      ['{"port": ', 'custom-bad.json is not valid JSON: Unexpected end of JSON input'],
    ];
    for (const [text, message] of cases) {
      writeFileSync(join(dir, 'custom-bad.json'), text);
      assert.throws(
        () => loadServerConfig({ env: {}, cwd: dir, flags: { config: 'custom-bad.json' } }),
        (e: unknown) => e instanceof InvalidArgumentError && e.message === message,
        text,
      );
    }
    writeFileSync(join(dir, 'bad.toml'), 'port = \n');
    assert.throws(() => loadServerConfig({ env: {}, cwd: dir, flags: { config: 'bad.toml' } }), {
      message: 'bad.toml is not valid TOML: invalid value (line 1, column 8)',
    });
    assert.throws(
      () => loadServerConfig({ env: {}, cwd: join(dir, 'elsewhere'), flags: { config: join(dir, 'bad.toml') } }),
      { message: `${join(dir, 'bad.toml')} is not valid TOML: invalid value (line 1, column 8)` },
      'a file outside the working folder is named by its whole path',
    );
    assert.throws(() => loadServerConfig({ env: {}, cwd: dir, flags: { config: 'nope.toml' } }), {
      message: 'config file nope.toml (from --config) does not exist',
    });
    assert.throws(() => loadServerConfig({ env: { POSTHORN_CONFIG: 'nope.toml' }, cwd: dir }), {
      message: 'config file nope.toml (from environment variable POSTHORN_CONFIG) does not exist',
    });
  });

  it('names the environment variable or the flag a bad value came from', () => {
    const refused = (options: Parameters<typeof loadServerConfig>[0], message: string) =>
      assert.throws(
        () => loadServerConfig({ cwd: dir, ...options }),
        (e: unknown) => e instanceof InvalidArgumentError && e.message === message,
        message,
      );
    refused(
      { env: { POSTHORN_PORT: '-1' } },
      'environment variable POSTHORN_PORT must be a port number (0 to 65535), not "-1"',
    );
    refused(
      { env: { POSTHORN_STORE: 'tape' } },
      'environment variable POSTHORN_STORE must be "disk" or "memory", not "tape"',
    );
    refused({ env: {}, flags: { port: 'x' } }, '--port must be a port number (0 to 65535), not "x"');
    refused(
      { env: { POSTHORN_WS_PORT: 'x' }, flags: { wsPort: '65536' } },
      '--ws-port must be a port number (0 to 65535), not "65536"',
    );
    refused(
      { env: { POSTHORN_SMTP_PORT: '0' } },
      'environment variable POSTHORN_SMTP_PORT must be a whole number from 1 to 65535, not "0"',
    );
  });
});

describe('server: [encryption] keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-crypt-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const key = (n: number) => Buffer.alloc(32, n).toString('base64');

  function load(toml: string, env: NodeJS.ProcessEnv = {}) {
    const folder = mkdtempSync(join(dir, 'c-'));
    writeFileSync(join(folder, 'posthorn.toml'), toml);
    return loadServerConfig({ env, cwd: folder });
  }

  it('has no key by default; reads key, key_id and old keys (strings or tables), env over file', () => {
    assert.deepEqual(loadServerConfig({ env: {}, cwd: dir }).encryption, { current: null, old: [] });
    const config = load(
      `[encryption]\nkey = "${key(1)}"\nkey_id = "k-new"\nold_keys = ["${key(2)}", { key = "${key(3)}", key_id = "k-3" }]\n`,
    );
    assert.equal(config.encryption.current?.id, 'k-new');
    assert.deepEqual(config.encryption.current?.key, Buffer.alloc(32, 1));
    const derived = createHash('sha256').update(Buffer.alloc(32, 2)).digest('hex').slice(0, 8);
    assert.deepEqual(
      config.encryption.old.map((k) => k.id),
      [derived, 'k-3'],
    );
    const fromEnv = load(`[encryption]\nkey = "${key(1)}"\n`, {
      POSTHORN_ENCRYPTION_KEY: key(4),
      POSTHORN_ENCRYPTION_OLD_KEYS: `${key(5)}, ${key(6)}`,
    });
    assert.deepEqual(fromEnv.encryption.current?.key, Buffer.alloc(32, 4));
    assert.equal(fromEnv.encryption.old.length, 2);
  });

  it('refuses a bad key at start, naming the setting and never echoing the key', () => {
    const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
      ['[encryption]\nkey = "not base64!"\n', {}, /setting 'encryption\.key' in posthorn\.toml must be base64/],
      [`[encryption]\nkey = "${Buffer.alloc(16, 7).toString('base64')}"\n`, {}, /encryption\.key.*32 bytes, not of 16/],
      ['', { POSTHORN_ENCRYPTION_KEY: 'short' }, /environment variable POSTHORN_ENCRYPTION_KEY must be base64/],
      [`[encryption]\nold_keys = ["${key(1)}", "x"]\n`, {}, /encryption\.old_keys\[1\].*must be base64/],
      ['[encryption]\nkey_id = "lonely"\n', {}, /encryption\.key_id.*needs encryption\.key/],
      [
        `[encryption]\nkey = "${key(1)}"\nkey_id = "a"\nold_keys = [{ key = "${key(2)}", key_id = "a" }]\n`,
        {},
        /two different keys.*"a"/,
      ],
      [`[encryption]\nkeys = "${key(1)}"\n`, {}, /unknown setting 'encryption\.keys'/],
    ];
    for (const [toml, env, pattern] of cases) {
      assert.throws(
        () => load(toml, env),
        (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError, String(error));
          assert.match(error.message, pattern);
          assert.doesNotMatch(error.message, new RegExp(key(1).replace(/[+/=]/g, '.')));
          return true;
        },
        toml,
      );
    }
  });
});
