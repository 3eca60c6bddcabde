import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};

describe('package: the Node.js versions it runs on', () => {
  it('no package it installs for its users declares the oldest Node.js it claims unsupported', () => {
    const oldest = semver.minVersion(pkg.engines.node);
    assert.ok(oldest, `engines.node ${pkg.engines.node} names a version`);
    const refusing: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || entry.dev) continue;
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range === undefined) continue;
      checked++;
      if (!semver.satisfies(oldest, range))
        refusing.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} wants ${range}`);
    }
    assert.ok(checked > 10, `the lock file lists engines (${checked})`);
    assert.deepEqual(refusing, [], `declared minimum ${oldest.version}`);
  });

  it('the Node.js running the tests is one the package claims', () => {
    assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} against ${pkg.engines.node}`);
  });
});
