import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { knownSettings, loadServerConfig } from '../../src/server/config.js';

const root = join(import.meta.dirname, '..', '..');
const file = join(root, 'posthorn.example.toml');
const text = readFileSync(file, 'utf8');

/** Each `key = value` line of the file, active or commented out, as `table.key` with its comment. */
function settingsShown(): Map<string, { active: boolean; comment: string }> {
  const shown = new Map<string, { active: boolean; comment: string }>();
  let table = '';
  for (const line of text.split('\n')) {
    const header = /^#?\s*\[\[?([a-z_.]+)\]\]?/.exec(line);
    if (header) {
      // A table named after a project (quotas.projects.acme) stands for every project's table.
      table = (header[1] as string).replace(/^(quotas|fair_share)\.projects\.[a-z_]+$/, '$1.projects.*');
      continue;
    }
    const setting = /^(#\s*)?([a-z_]+)\s*=\s*[^#]*?\s*(#\s*(.*))?$/.exec(line);
    if (!setting) continue;
    const key = table === '' ? (setting[2] as string) : `${table}.${setting[2]}`;
    shown.set(key, { active: setting[1] === undefined, comment: setting[4] ?? '' });
  }
  return shown;
}

describe('server: posthorn.example.toml', () => {
  it('shows every setting Posthorn knows, each with a line on what it does, and nothing else', () => {
    const shown = settingsShown();
    const known = knownSettings().sort();
    assert.deepEqual([...shown.keys()].sort(), known);
    for (const [key, { comment }] of shown)
      assert.ok(comment.length >= 8, `${key} says what it does: ${JSON.stringify(comment)}`);
  });

  it('loads, and what it sets is exactly the defaults', () => {
    const fromExample = loadServerConfig({ flags: { config: file }, env: {}, cwd: root });
    const defaults = loadServerConfig({ env: {}, cwd: root });
    assert.deepEqual({ ...fromExample, file: null }, { ...defaults, file: null });
    assert.equal(fromExample.file, file);
  });

  it('comments out only the settings that have no default, or whose presence turns something on', () => {
    const inactive = [...settingsShown()].filter(([, s]) => !s.active).map(([key]) => key.split('.')[0]);
    assert.deepEqual([...new Set(inactive)].sort(), [
      'admin',
      'default_project',
      'encryption',
      'fair_share',
      'keystone_authtoken',
      'max_connections',
      'metrics_port',
      'notification',
      'pooling',
      'quotas',
      'signed_url',
      'tls',
      'token',
      'websocket',
      'ws_port',
    ]);
  });
});
