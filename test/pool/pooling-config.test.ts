import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/index.js';
import { loadServerConfig } from '../../src/server/index.js';

function withFile(toml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-pooling-config-'));
  try {
    writeFileSync(join(dir, 'posthorn.toml'), toml);
    return loadServerConfig({ env, cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('server: [pooling] and [admin] settings', () => {
  it('is off by default, on with a [pooling] table, and reads catalog, default pool, times and pools', () => {
    const plain = withFile('');
    assert.equal(plain.pooling, null);
    assert.equal(plain.adminToken, null);
    assert.deepEqual(withFile('[pooling]\n').pooling, {
      catalog: null,
      defaultPool: null,
      cacheSeconds: 2,
      settleSeconds: 5,
      pools: [],
    });
    const full = withFile(
      [
        '[pooling]',
        'catalog = "postgres://db:5432/posthorn?schema=catalog"',
        'default_pool = "red"',
        'cache_seconds = 1.5',
        'settle_seconds = 3',
        '[[pooling.pools]]',
        'name = "red"',
        'uri = "redis://127.0.0.1:6379/0?prefix=red:"',
        'weight = 10',
        'flavor = "fast"',
        '[[pooling.pools]]',
        'name = "pg"',
        'uri = "postgres://db:5432/posthorn?schema=pool1"',
        '[admin]',
        'token = "a-token-of-sixteen-chars"',
      ].join('\n'),
    );
    assert.deepEqual(full.pooling, {
      catalog: 'postgres://db:5432/posthorn?schema=catalog',
      defaultPool: 'red',
      cacheSeconds: 1.5,
      settleSeconds: 3,
      pools: [
        { name: 'red', uri: 'redis://127.0.0.1:6379/0?prefix=red:', weight: 10, flavor: 'fast' },
        { name: 'pg', uri: 'postgres://db:5432/posthorn?schema=pool1', weight: 100, flavor: null },
      ],
    });
    assert.equal(full.adminToken, 'a-token-of-sixteen-chars');
  });

  it('takes the environment over the file', () => {
    const config = withFile('[pooling]\ncatalog = "redis://a:1"\n', {
      POSTHORN_POOLING_CATALOG: 'redis+cluster://h1:7000,h2:7001',
      POSTHORN_ADMIN_TOKEN: 'from-the-environment-token',
      POSTHORN_POOLING_CACHE_SECONDS: '0.5',
    });
    assert.equal(config.pooling?.catalog, 'redis+cluster://h1:7000,h2:7001');
    assert.equal(config.pooling?.cacheSeconds, 0.5);
    assert.equal(config.adminToken, 'from-the-environment-token');
    assert.equal(withFile('[pooling]\n', { POSTHORN_POOLING: 'false' }).pooling, null);
    assert.notEqual(withFile('', { POSTHORN_POOLING: 'true' }).pooling, null);
  });

  it('refuses what is wrong, naming the setting', () => {
    const cases: [string, RegExp][] = [
      ['[pooling]\ncatalog = "mongodb://x"\n', /pooling\.catalog/],
      ['[pooling]\ncolour = 1\n', /pooling\.colour/],
      ['[pooling]\ncache_seconds = -1\n', /pooling\.cache_seconds/],
      ['[pooling]\n[[pooling.pools]]\nname = "bad name"\nuri = "memory://"\n', /pooling\.pools\[0\]\.name/],
      ['[pooling]\n[[pooling.pools]]\nname = "a"\nuri = "disk://relative"\n', /pooling\.pools\[0\]\.uri/],
      ['[pooling]\n[[pooling.pools]]\nname = "a"\nuri = "memory://"\nweight = -2\n', /pooling\.pools\[0\]\.weight/],
      [
        '[pooling]\n[[pooling.pools]]\nname = "a"\nuri = "memory://"\n[[pooling.pools]]\nname = "a"\nuri = "memory://"\n',
        /a second time/,
      ],
      ['[admin]\ntoken = "short"\n', /admin\.token/],
      ['[admin]\nuser = "x"\n', /admin\.user/],
    ];
    for (const [toml, field] of cases) {
      assert.throws(
        () => withFile(toml),
        (e: unknown) => e instanceof InvalidArgumentError && field.test(e.message),
        toml,
      );
    }
  });
});
