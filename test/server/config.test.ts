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

  it('refuses unknown settings, bad values and a named file that is missing, naming what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['{"prot": 1}', /prot/],
      ['{"port": 70000}', /port/],
      ['{"port": "eighty"}', /port/],
      ['{"store": "tape"}', /store/],
      ['{"log_level": "loud"}', /log_level/],
      ['{"transport": {"client_id_uuid_safe": "sometimes"}}', /client_id_uuid_safe/],
      ['{"transport": {"min_length_client_id": 40}}', /min_length_client_id/],
      ['{"limits": {"max_messages_per_pages": 5}}', /max_messages_per_pages/],
      ['{"limits": {"min_message_ttl": 100, "default_message_ttl": 60}}', /limits/],
      ['{"signed_url": {"secret_key": ""}}', /secret_key/],
      ['{"port": ', /custom-bad.json/],
    ];
    for (const [text, message] of cases) {
      const file = join(dir, 'custom-bad.json');
      writeFileSync(file, text);
      assert.throws(
        () => loadServerConfig({ env: {}, cwd: dir, flags: { config: file } }),
        (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
        text,
      );
    }
    assert.throws(() => loadServerConfig({ env: {}, cwd: dir, flags: { config: 'nope.toml' } }), /does not exist/);
    assert.throws(() => loadServerConfig({ env: { POSTHORN_PORT: '-1' }, cwd: dir }), /port/);
  });
});
