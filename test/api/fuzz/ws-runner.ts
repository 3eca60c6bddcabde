/**
 * Runs a sequence of fuzzed WebSocket frames over one socket to a fresh target (the WebSocket API
 * on 127.0.0.1, a free port, over the same service as the HTTP app the state is read through) and
 * checks every answer: no 5xx, every error body is Zaqar's WebSocket error (`{"error"}` or
 * `{"exception", "error"}`, strings), and a 4xx leaves the full state unchanged.
 */
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { listenWebSocket, WebSocketApi } from '../../../src/api/ws/index.js';
import { silentLogger } from '../../../src/core/index.js';
import { KnownIds } from './known-ids.js';
import { firstDifference, shown } from './properties.js';
import { snapshot } from './state.js';
import { ADMIN_TOKEN, buildTarget, type TargetKind } from './targets.js';
import { toJsonText, withoutRaw } from './values.js';
import type { WsFrame } from './ws-arbitraries.js';

export type WsStep = { kind: 'frame'; frame: WsFrame } | { kind: 'tick'; seconds: number };

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

interface Answer {
  body: unknown;
  headers: { status: number };
}

/** Why a WebSocket error body is not Zaqar's, or null. */
function notZaqarWsError(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not an object';
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'error' && keys !== 'error,exception') return `the body has the keys ${keys}`;
  for (const value of Object.values(body)) if (typeof value !== 'string') return 'a field is not a string';
  return null;
}

export interface WsStats {
  frames: number;
  statuses: Map<number, number>;
}

export async function runWsSequence(kind: TargetKind, steps: readonly WsStep[], stats?: WsStats): Promise<void> {
  const target = await buildTarget(kind);
  const api = new WebSocketApi({
    service: target.service,
    pools: target.pools,
    adminToken: ADMIN_TOKEN,
    logger: silentLogger,
    // Socket subscriptions are stored with this subscriber; nothing delivers to it (no notifier).
    notificationBase: () => 'http://127.0.0.1:9/',
  });
  const listener = await listenWebSocket(api, { host: '127.0.0.1', port: 0 });
  const ws = new WebSocket(listener.url);
  const answers: Answer[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  ws.on('message', (data, binary) => {
    const doc = (binary ? packr.unpack(data as Buffer) : JSON.parse(data.toString())) as Record<string, unknown>;
    // Pushed notifications have no `request`: only answers are counted.
    if ('request' in doc && 'headers' in doc) answers.push(doc as unknown as Answer);
    wake?.();
  });
  ws.on('close', () => {
    closed = true;
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const known = new KnownIds();
  try {
    let before = await snapshot(target, known);
    for (const [index, step] of steps.entries()) {
      if (step.kind === 'tick') {
        target.clock.advance(step.seconds * 1000);
        before = await snapshot(target, known);
        continue;
      }
      const frame = step.frame;
      let sent: string | Buffer;
      let shownFrame: string;
      if (frame.kind === 'raw') {
        sent = frame.text;
        shownFrame = frame.text;
      } else {
        const document = known.resolveDeep(frame.document);
        shownFrame = toJsonText(document);
        // MessagePack of a deep marker may be beyond the encoder's own stack: then send it as JSON.
        let packed: Buffer | null = null;
        if (frame.binary) {
          try {
            packed = packr.pack(withoutRaw(document));
          } catch {
            packed = null;
          }
        }
        sent = packed ?? shownFrame;
      }
      const binary = typeof sent !== 'string';
      const count = answers.length;
      ws.send(sent, { binary });
      while (answers.length === count && !closed) await new Promise<void>((resolve) => (wake = resolve));
      const where = () =>
        `step ${index} on ${kind}: ${shown(typeof sent === 'string' ? sent : withoutRaw(known.resolveDeep(frame.kind === 'request' ? frame.document : {})), 400)}`;
      if (closed) throw new Error(`the socket closed — ${where()}`);
      const answer = answers[count] as Answer;
      const status = answer.headers.status;
      if (stats) {
        stats.frames++;
        stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
      }
      const text = JSON.stringify(answer.body) ?? '';
      if (status < 400) known.harvest(text);
      const said = () => `${where()} answered ${status} ${shown(text, 400)}`;
      if (status >= 500) throw new Error(`a 5xx with no store down — ${said()}`);
      if (status >= 400) {
        const problem = notZaqarWsError(answer.body);
        if (problem !== null) throw new Error(`not Zaqar's error body (${problem}) — ${said()}`);
      }
      const action = frame.kind === 'request' ? frame.action : '';
      // Reads that succeed change nothing (see http-runner.ts): their snapshot is skipped.
      if (status < 400 && /_(list|get|get_many|get_stats)$|^(get_home_doc|ping_node|authenticate)$/.test(action))
        continue;
      const after = await snapshot(target, known);
      if (status >= 400) {
        const difference = firstDifference(before, after);
        if (difference !== null) throw new Error(`a ${status} changed the state at ${difference} — ${said()}`);
      }
      before = after;
    }
  } finally {
    ws.terminate();
    await api.close();
    await listener.close();
    await target.close();
  }
}
