/**
 * Runs a sequence of fuzzed HTTP requests against a fresh target and checks every answer: no 5xx
 * (no store is down here), every error body is Zaqar's, and a 4xx leaves the full state (state.ts)
 * exactly as it was. A broken property throws with the step, the request as sent and the answer;
 * fast-check adds the seed, the path and the shrunk sequence.
 */
import type { HttpRequest } from './http-arbitraries.js';
import { KnownIds } from './known-ids.js';
import { firstDifference, notZaqarErrorBody, shown } from './properties.js';
import { snapshot } from './state.js';
import { buildTarget, type TargetKind } from './targets.js';

export type Step = { kind: 'request'; request: HttpRequest } | { kind: 'tick'; seconds: number };

const DEFAULT_HEADERS: Record<string, string> = { 'content-type': 'application/json' };

function payloadOf(request: HttpRequest, known: KnownIds): string | Buffer | undefined {
  const body = request.body;
  if (body === undefined) return undefined;
  if ('hex' in body) return Buffer.from(body.hex, 'hex');
  if ('oversize' in body)
    return `{"messages":[{"ttl":300,"body":"${'x'.repeat(body.oversize)}"}],"x":"${'y'.repeat(body.oversize)}"}`;
  return known.resolve(body.text);
}

export interface RunStats {
  requests: number;
  statuses: Map<number, number>;
}

export async function runSequence(kind: TargetKind, steps: readonly Step[], stats?: RunStats): Promise<void> {
  const target = await buildTarget(kind);
  const known = new KnownIds();
  try {
    let before = await snapshot(target, known);
    for (const [index, step] of steps.entries()) {
      if (step.kind === 'tick') {
        // Time passes outside the bracket of any request: TTLs, claims and delays run out here.
        target.clock.advance(step.seconds * 1000);
        before = await snapshot(target, known);
        continue;
      }
      const request = step.request;
      const url = known.resolve(request.url);
      const payload = payloadOf(request, known);
      const headers: Record<string, string | string[]> = payload === undefined ? {} : { ...DEFAULT_HEADERS };
      for (const [name, value] of Object.entries(request.headers)) {
        if (value === null) delete headers[name];
        else headers[name] = value;
      }
      const answer = await target.app.inject({
        method: request.method as 'GET',
        url,
        headers,
        ...(payload !== undefined ? { payload } : {}),
      });
      const status = answer.statusCode;
      if (stats) {
        stats.requests++;
        stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
      }
      // Only what succeeded names ids: a refusal may echo a made-up id back.
      if (status < 400) known.harvest(`${answer.body} ${String(answer.headers.location ?? '')}`);
      const where = () =>
        `step ${index} (${request.route}) on ${kind}: ${request.method} ${shown(url, 300)} headers ${shown(headers, 300)} body ${shown(payload ?? '', 300)} answered ${status} ${shown(answer.body, 400)}`;
      if (status >= 500) throw new Error(`a 5xx with no store down — ${where()}`);
      if (status >= 400 && request.method !== 'HEAD') {
        const problem = notZaqarErrorBody(answer.body);
        if (problem !== null) throw new Error(`not Zaqar's error body (${problem}) — ${where()}`);
      }
      // A successful read changes nothing, so its snapshot is skipped (they cost most of the run's
      // time). Were a read to change the state, the next refused request's comparison would still
      // show it, blamed on that request: its message says which steps ran before it.
      if (status < 400 && (request.method === 'GET' || request.method === 'HEAD')) continue;
      const after = await snapshot(target, known);
      if (status >= 400) {
        const difference = firstDifference(before, after);
        if (difference !== null) throw new Error(`a ${status} changed the state at ${difference} — ${where()}`);
      }
      before = after;
    }
  } finally {
    await target.close();
  }
}
