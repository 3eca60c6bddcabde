import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { messageChecksum, pythonJson } from '../../src/service/index.js';

/** Bodies whose Python serialization is the same whether read by Python or by JSON.parse. */
const BODIES: unknown[] = [
  239,
  -17,
  0,
  2.5,
  -0.001,
  1e-7,
  1.5e300,
  0.1,
  123456.789,
  1e16 + 0.5,
  'plain',
  'quote " backslash \\ slash /',
  'tab\tnewline\ncontrol\u0001del\u007f',
  'héllo wörld ✓ 𝄞',
  true,
  false,
  null,
  [],
  {},
  [1, 'two', [3], { four: 4 }],
  { key: 'value', nested: { list: [null, true, 2.25] }, ключ: 'значение' },
];

function python(): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(candidate, ['-c', 'import json'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  return null;
}

const py = python();

describe('service: message checksums', () => {
  it("serializes bodies exactly as Python's json.dumps does", {
    skip: py === null ? 'no python3 on this machine to compare with' : false,
  }, () => {
    const script = 'import json,sys\nfor v in json.loads(sys.stdin.read()): print(json.dumps(v))';
    const run = spawnSync(py as string, ['-c', script], { input: JSON.stringify(BODIES), encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split('\n').slice(0, BODIES.length);
    BODIES.forEach((body, i) => {
      assert.equal(pythonJson(body), lines[i], JSON.stringify(body));
    });
  });

  it('is "MD5:" and the hex MD5 of that serialization; null and byte bodies have none', () => {
    const body = { a: [1, 2] };
    assert.equal(messageChecksum(body), `MD5:${createHash('md5').update('{"a": [1, 2]}').digest('hex')}`);
    assert.equal(messageChecksum(null), undefined);
    assert.equal(messageChecksum(new Uint8Array([1, 2])), undefined);
    assert.notEqual(messageChecksum({ a: 1 }), messageChecksum({ a: 2 }));
  });
});
