import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { startServeProcess } from '../interop/serve-process.js';
import { zaqarHeaders } from './serve-client.js';

/**
 * Issue 12, defect 5, on a real full disk: a 2 MiB tmpfs (so only as root). The server fills it
 * (posts answer 503 saying the disk is full, and /readyz and /v2/health say so), stops, and
 * starts again on the full disk — which failed before with ENOSPC writing the notification
 * spool's lock file — and then serves reads, claims and deletes.
 */

const HEADERS = zaqarHeaders('full-disk');

async function call(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) {
  const response = await request(`${url}${path}`, {
    method,
    headers: HEADERS,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: text === '' ? undefined : JSON.parse(text) };
}

/** Mounts a 2 MiB tmpfs, or says why it cannot. */
function smallDisk(): { dir: string; unmount: () => void } | string {
  if (process.platform !== 'linux') return 'needs Linux to mount a small tmpfs';
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${(mounted.stderr || mounted.error?.message || '').trim()}`;
  }
  return {
    dir,
    unmount: () => {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('server: a full disk (real tmpfs)', { timeout: 300_000 }, () => {
  it('posts are refused saying the disk is full, readiness and health say so, and a restart on the full disk serves', async (t) => {
    const disk = smallDisk();
    if (typeof disk === 'string') {
      console.log(`# skipped: ${disk}`);
      t.skip(disk);
      return;
    }
    const data = join(disk.dir, 'data');
    try {
      let server = await startServeProcess(['--data', data]);
      const posted: string[] = [];
      try {
        const body = 'x'.repeat(8000);
        for (;;) {
          const answer = await call(server.url, 'POST', '/v2/queues/q/messages', { messages: [{ body, ttl: 3600 }] });
          if (answer.status !== 201) {
            assert.equal(answer.status, 503, JSON.stringify(answer.json));
            assert.deepEqual(Object.keys(answer.json).sort(), ['description', 'title']);
            assert.match(answer.json.description, /disk holding the data is full/);
            assert.ok(answer.headers['retry-after'], 'a full disk answers with Retry-After');
            break;
          }
          posted.push(...(answer.json.resources as string[]).map((href) => href.split('/').pop() as string));
          // 2 MiB hold a few hundred of these; a disk that never fills is a failure, not a hang.
          assert.ok(posted.length < 10_000, 'the 2 MiB disk never filled');
        }
        assert.ok(posted.length > 0, 'some posts fit before the disk filled');
        const ready = await call(server.url, 'GET', '/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.json.stores.default, 'full');
        assert.match(ready.json.description, /disk holding the data of these stores is full: default/);
        const health = await call(server.url, 'GET', '/v2/health');
        assert.equal(health.status, 200);
        assert.equal(health.json.storage_full, true);
        assert.equal(await server.stop('SIGTERM'), 0);

        server = await startServeProcess(['--data', data]);
        // Everything acknowledged is there, and reads, claims and deletes work on the full disk.
        const seen = new Set<string>();
        let path = '/v2/queues/q/messages?limit=10&echo=true&include_claimed=true';
        for (;;) {
          const page = await call(server.url, 'GET', path);
          if (page.status === 204) break;
          assert.equal(page.status, 200, JSON.stringify(page.json));
          if (page.json.messages.length === 0) break;
          for (const m of page.json.messages as { id: string }[]) seen.add(m.id);
          path = (page.json.links as { rel: string; href: string }[]).find((l) => l.rel === 'next')?.href as string;
        }
        assert.deepEqual(
          posted.filter((id) => !seen.has(id)),
          [],
          'every acknowledged post is served after the restart',
        );
        const claim = await call(server.url, 'POST', '/v2/queues/q/claims?limit=5', { ttl: 300, grace: 60 });
        assert.equal(claim.status, 201, JSON.stringify(claim.json));
        const first = posted[0] as string;
        const get = await call(server.url, 'GET', `/v2/queues/q/messages/${first}`);
        assert.equal(get.status, 200);
        const deleted = await call(server.url, 'DELETE', `/v2/queues/q/messages/${posted[posted.length - 1]}`);
        assert.equal(deleted.status, 204);
      } finally {
        await server.stop('SIGTERM');
      }
    } finally {
      disk.unmount();
    }
  });
});
