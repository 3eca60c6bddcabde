/**
 * A WebSocket frame of JSON nested far deeper than any document may be is refused with 400 before
 * any work, as HTTP refuses it (issue 12, defect 7: it answered 500, the encoder's stack overflowed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { loadServerConfig, startQueueServer } from '../../../src/server/index.js';

const HEADERS = { 'Client-ID': '3381af92-2b9e-11e3-b191-71861300734c', 'X-Project-ID': 'ws-deep' };

test('websocket: JSON nested 3,000 deep is refused with 400 and the socket still serves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-ws-deep-'));
  const server = await startQueueServer(
    loadServerConfig({ env: { POSTHORN_LOG_LEVEL: 'silent' }, cwd: dir, flags: { port: 0, wsPort: 0, data: dir } }),
  );
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ws = new WebSocket(server.wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  t.after(() => ws.terminate());
  const answers: { headers: { status: number }; body: Record<string, unknown> }[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    answers.push(JSON.parse(data.toString()));
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (count: number) => {
    while (answers.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    const answer = answers[count - 1];
    assert(answer !== undefined);
    return answer;
  };
  const depth = 3000;
  const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const deepArray = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const head = `"headers":${JSON.stringify(HEADERS)}`;
  const frames = [
    `{"action":"queue_create",${head},"body":{"queue_name":"deep","metadata":${deepObject}}}`,
    `{"action":"message_post",${head},"body":{"queue_name":"deep","messages":[{"body":${deepArray}}]}}`,
    `{"action":"message_post",${head},"body":{"queue_name":"deep","messages":[{"body":${deepObject}}]}}`,
    deepArray,
  ];
  for (const [i, frame] of frames.entries()) {
    ws.send(frame);
    const refused = await next(i + 1);
    assert.equal(refused.headers.status, 400, `frame ${i}: ${JSON.stringify(refused.body).slice(0, 200)}`);
  }
  ws.send(JSON.stringify({ action: 'queue_list', headers: HEADERS, body: {} }));
  const listed = await next(frames.length + 1);
  assert.equal(listed.headers.status, 200);
  assert.doesNotMatch(JSON.stringify(listed.body), /"deep"/, 'the refused queue was created');
});

test('websocket with pooling: a refused post or queue create leaves no ghost in the catalog', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'posthorn-ws-ghost-'));
  writeFileSync(join(dir, 'posthorn.toml'), 'port = 0\nws_port = 0\nstore = "memory"\n[pooling]\n');
  const server = await startQueueServer(loadServerConfig({ env: { POSTHORN_LOG_LEVEL: 'silent' }, cwd: dir }));
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ws = new WebSocket(server.wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  t.after(() => ws.terminate());
  const answers: { headers: { status: number } }[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    answers.push(JSON.parse(data.toString()));
    for (const wake of waiters.splice(0)) wake();
  });
  const head = `"headers":${JSON.stringify(HEADERS)}`;
  const deep = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
  ws.send(`{"action":"message_post",${head},"body":{"queue_name":"gp","messages":[{"body":-1e400}]}}`);
  ws.send(`{"action":"queue_create",${head},"body":{"queue_name":"gq","metadata":{"m":${deep}}}}`);
  while (answers.length < 2) await new Promise<void>((resolve) => waiters.push(resolve));
  assert.deepEqual(
    answers.map((a) => a.headers.status),
    [400, 400],
  );
  assert.equal(await server.pooling?.catalog.route('ws-deep', 'gp'), null);
  assert.equal(await server.pooling?.catalog.route('ws-deep', 'gq'), null);
});
