import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/index.js';
import { createPostgresDriver, parsePostgresUri } from '../../src/store/postgres/index.js';

describe('postgres pool URIs', () => {
  it('reads host, port, user, password, database and the Posthorn parameters', () => {
    const parsed = parsePostgresUri(
      'postgres://ph%40user:s%3Acret@db.example.test:6543/queues?schema=tenant_a&pool_size=4&connect_timeout=3&sslmode=require&application_name=edge&statement_timeout=5000&query_timeout=9000',
    );
    assert.deepEqual(parsed.pool, {
      host: 'db.example.test',
      port: 6543,
      user: 'ph@user',
      password: 's:cret',
      database: 'queues',
      max: 4,
      connectionTimeoutMillis: 3000,
      ssl: { rejectUnauthorized: false },
      application_name: 'edge',
      statement_timeout: 5000,
      query_timeout: 9000,
    });
    assert.equal(parsed.schema, 'tenant_a');
    assert.equal(parsed.redacted.includes('s%3Acret'), false, 'the password is hidden');
    assert.ok(parsed.redacted.includes('***'));
  });

  it('accepts postgresql://, IPv6 hosts, a socket folder and the defaults', () => {
    assert.deepEqual(parsePostgresUri('postgresql://[::1]:5433/db').pool, { host: '::1', port: 5433, database: 'db' });
    assert.deepEqual(parsePostgresUri('postgres:///db?host=/run/postgresql').pool, {
      host: '/run/postgresql',
      database: 'db',
    });
    const bare = parsePostgresUri('postgres://localhost');
    assert.deepEqual(bare.pool, { host: 'localhost' });
    assert.equal(bare.schema, undefined);
    assert.equal(parsePostgresUri('postgres://h/db?sslmode=disable').pool.ssl, false);
    assert.equal(parsePostgresUri('postgres://h/db?sslmode=verify-full').pool.ssl, true);
  });

  const malformed: [string, string, RegExp][] = [
    ['not a URI', 'not a uri', /is not a URI/],
    ['another scheme', 'mysql://h/db', /postgres:\/\//],
    ['an unknown parameter', 'postgres://h/db?shema=x', /unknown parameter "shema"/],
    ['a repeated parameter', 'postgres://h/db?schema=a&schema=b', /repeats/],
    ['a schema that is not an identifier', 'postgres://h/db?schema=Robert%27);DROP', /schema/],
    ['a pool size of zero', 'postgres://h/db?pool_size=0', /pool_size/],
    ['a non-numeric timeout', 'postgres://h/db?connect_timeout=soon', /connect_timeout/],
    ['a bad sslmode', 'postgres://h/db?sslmode=maybe', /sslmode/],
    ['several hosts', 'postgres://a,b/db', /several hosts/],
    ['a fragment', 'postgres://h/db#x', /fragment/],
    ['a deeper path', 'postgres://h/db/extra', /path/],
  ];
  for (const [label, uri, reason] of malformed) {
    it(`refuses ${label} with InvalidArgumentError naming the uri`, () => {
      assert.throws(
        () => parsePostgresUri(uri),
        (error: unknown) =>
          error instanceof InvalidArgumentError && error.field === 'uri' && reason.test(error.message),
      );
    });
  }

  it('never echoes a password, even from a URI that does not parse', () => {
    for (const uri of ['postgres://u:hunter2@h/db?bogus=1', 'postgres://u:hunter2@h:99999/db']) {
      assert.throws(
        () => parsePostgresUri(uri),
        (error: unknown) => error instanceof InvalidArgumentError && !error.message.includes('hunter2'),
      );
    }
  });

  it('createPostgresDriver refuses a malformed URI or schema before connecting', async () => {
    await assert.rejects(createPostgresDriver({ url: 'postgres://h/db?nope=1' }), InvalidArgumentError);
    await assert.rejects(createPostgresDriver({ url: 'postgres://h/db', schema: 'Bad-Name' }), InvalidArgumentError);
  });
});
