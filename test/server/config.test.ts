import assert from 'node:assert/strict';
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
