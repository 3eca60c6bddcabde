import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadServerConfig } from '../../src/server/config.js';

describe('server: [fair_share] settings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'posthorn-fair-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const load = (toml: string, env: NodeJS.ProcessEnv = {}) => {
    writeFileSync(join(dir, 'posthorn.toml'), toml);
    return loadServerConfig({ env, cwd: dir }).fairShare;
  };

  it('is off until a rate is set', () => {
    assert.equal(load(''), null);
    assert.equal(load('[fair_share]\n'), null);
  });

  it('reads defaults, bursts of one second’s worth unless set, and projects that inherit what they leave out', () => {
    const config = load(
      [
        '[fair_share]',
        'requests_per_second = 50',
        'messages_per_second = 2.5',
        'message_burst = 10',
        '[fair_share.projects.big]',
        'requests_per_second = 500',
        '[fair_share.projects."bursty/1"]',
        'message_burst = 100',
      ].join('\n'),
    );
    assert.deepEqual(config?.defaults, {
      requests: { perSecond: 50, burst: 50 },
      messages: { perSecond: 2.5, burst: 10 },
    });
    assert.deepEqual(config?.projects.get('big'), { requests: { perSecond: 500, burst: 500 } });
    assert.deepEqual(config?.projects.get('bursty/1'), { messages: { perSecond: 2.5, burst: 100 } });
    assert.equal(config?.refusalDelayMs, 1000);
  });

  it('takes the environment over the file', () => {
    const config = load('[fair_share]\nrequests_per_second = 50\n', {
      POSTHORN_FAIR_SHARE_REQUESTS_PER_SECOND: '0.5',
      POSTHORN_FAIR_SHARE_REQUEST_BURST: '3',
      POSTHORN_FAIR_SHARE_MESSAGES_PER_SECOND: '100',
      POSTHORN_FAIR_SHARE_REFUSAL_DELAY_MS: '0',
    });
    assert.equal(config?.refusalDelayMs, 0);
    assert.deepEqual(config?.defaults, {
      requests: { perSecond: 0.5, burst: 3 },
      messages: { perSecond: 100, burst: 100 },
    });
  });

  it('refuses what cannot be meant, saying where', () => {
    assert.throws(() => load('[fair_share]\nrequests_per_second = 0\n'), /'fair_share.requests_per_second'.*positive/);
    assert.throws(() => load('[fair_share]\nrequest_burst = 5\n'), /needs fair_share.requests_per_second/);
    assert.throws(
      () => load('[fair_share]\nrequests_per_second = 5\nrequest_burst = 0.5\n'),
      /'fair_share.request_burst'.*at least 1/,
    );
    assert.throws(() => load('[fair_share]\nrequests = 5\n'), /unknown setting 'fair_share.requests'/);
    assert.throws(
      () => load('[fair_share.projects.a]\nrequests = 5\n'),
      /unknown setting 'fair_share.projects.a.requests'/,
    );
    assert.throws(() => load('[fair_share]\nprojects = 5\n'), /'fair_share.projects'.*table of projects/);
    assert.throws(
      () => load('[fair_share.projects.a]\nrequest_burst = 5\n'),
      /needs fair_share.projects.a.requests_per_second or fair_share.requests_per_second/,
    );
    assert.throws(
      () => load('[fair_share]\n', { POSTHORN_FAIR_SHARE_MESSAGES_PER_SECOND: 'lots' }),
      /environment variable POSTHORN_FAIR_SHARE_MESSAGES_PER_SECOND must be a positive number/,
    );
  });
});
