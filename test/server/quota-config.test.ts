import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig } from '../../src/server/index.js';

describe('server: [quotas] configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-quota-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const withFile = (name: string, text: string) => {
    const folder = mkdtempSync(join(dir, 'c-'));
    writeFileSync(join(folder, name), text);
    return folder;
  };

  it('no quotas by default: every key unlimited, a refresh of 5 seconds', () => {
    const config = loadServerConfig({ env: {}, cwd: dir });
    assert.deepEqual(config.quotas, { defaults: {}, projects: {}, refreshSeconds: 5 });
  });

  it('reads defaults and per-project tables from the file; the environment overrides the defaults', () => {
    const folder = withFile(
      'posthorn.toml',
      [
        '[quotas]',
        'max_queues = 10',
        'max_messages = 1000',
        'refresh_seconds = 2',
        '[quotas.projects.acme]',
        'max_messages = 5000',
        '[quotas.projects."team b"]',
        'max_bytes = 0',
      ].join('\n'),
    );
    const fromFile = loadServerConfig({ env: {}, cwd: folder });
    assert.deepEqual(fromFile.quotas, {
      defaults: { max_queues: 10, max_messages: 1000 },
      projects: { acme: { max_messages: 5000 }, 'team b': { max_bytes: 0 } },
      refreshSeconds: 2,
    });
    const fromEnv = loadServerConfig({
      env: {
        POSTHORN_QUOTA_MAX_QUEUES: '3',
        POSTHORN_QUOTA_MAX_BYTES: '1048576',
        POSTHORN_QUOTA_REFRESH_SECONDS: '0.5',
      },
      cwd: folder,
    });
    assert.deepEqual(fromEnv.quotas.defaults, { max_queues: 3, max_messages: 1000, max_bytes: 1048576 });
    assert.equal(fromEnv.quotas.refreshSeconds, 0.5);
  });

  it('refuses bad values and unknown keys, naming the setting', () => {
    const cases: [string, RegExp][] = [
      ['[quotas]\nmax_queues = -1', /setting 'quotas.max_queues' in posthorn.toml must be a whole number/],
      ['[quotas]\nmax_message = 5', /unknown setting 'quotas.max_message'/],
      ['[quotas.projects.acme]\nmax_bytes = "lots"', /setting 'quotas.projects.acme.max_bytes'/],
      ['[quotas.projects.acme]\nrefresh_seconds = 1', /unknown setting 'quotas.projects.acme.refresh_seconds'/],
      ['[quotas]\nprojects = 5', /setting 'quotas.projects' in posthorn.toml must be a table/],
      ['[quotas]\nrefresh_seconds = -2', /quotas.refresh_seconds.*must be a number of seconds/],
    ];
    for (const [text, message] of cases) {
      const folder = withFile('posthorn.toml', text);
      assert.throws(
        () => loadServerConfig({ env: {}, cwd: folder }),
        (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message),
        text,
      );
    }
    assert.throws(
      () => loadServerConfig({ env: { POSTHORN_QUOTA_MAX_MESSAGES: 'many' }, cwd: dir }),
      /environment variable POSTHORN_QUOTA_MAX_MESSAGES must be a whole number/,
    );
  });
});
