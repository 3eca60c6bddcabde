/**
 * The flooding tenant of `npm run bench:tenants`, in a process of its own so that answering its
 * flood does not slow the measuring process's event loop (which would count against tenant B's
 * latency without being the server's doing). Posts batches of messages as fast as answered over
 * FLOOD_CONNECTIONS keep-alive connections, ignoring Retry-After (a tenant that misbehaves).
 *
 * Driven by lines on stdin, each answered by a line on stdout: it says `ready` at start; `go`
 * starts a flood (`going`), `stop` ends it once every request in flight is answered (`stopped`),
 * `exit` prints one JSON line of what it was answered while flooding, and exits.
 *
 *   FLOOD_URL, FLOOD_PROJECT, FLOOD_CONNECTIONS, FLOOD_BATCH
 */
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

const url = process.env.FLOOD_URL as string;
const project = process.env.FLOOD_PROJECT ?? 'tenant-a';
const connections = Number(process.env.FLOOD_CONNECTIONS ?? 64);
const batch = Number(process.env.FLOOD_BATCH ?? 10);
const headers = {
  'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
  'x-project-id': project,
  'content-type': 'application/json',
};
const body = JSON.stringify({
  messages: Array.from({ length: batch }, (_, i) => ({ ttl: 3600, body: `${i}`.padEnd(256, 'x') })),
});

const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const counts = { accepted: 0, refused: 0, other: 0, retry_after_s: [] as number[], seconds: 0 };
let flooding = false;
let running: Promise<unknown> | null = null;
let started = 0;

async function flood(queue: string): Promise<void> {
  while (flooding) {
    try {
      const r = await pool.request({ method: 'POST', path: `/v2/queues/${queue}/messages`, headers, body });
      await r.body.dump();
      if (r.statusCode === 201) counts.accepted++;
      else if (r.statusCode === 429) {
        counts.refused++;
        // A sample of the waits the server asked for, to show they are sensible.
        if (counts.refused % 500 === 1) counts.retry_after_s.push(Number(r.headers['retry-after']));
      } else counts.other++;
    } catch {
      counts.other++;
    }
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);
say('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go' && !flooding) {
    flooding = true;
    started = performance.now();
    running = Promise.all(Array.from({ length: connections }, (_, i) => flood(`flood-${i % 8}`)));
    say('going');
  } else if (line === 'stop' && flooding) {
    flooding = false;
    await running;
    counts.seconds += (performance.now() - started) / 1000;
    say('stopped');
  } else if (line === 'exit') {
    break;
  }
}
await pool.close();
say(JSON.stringify(counts));
