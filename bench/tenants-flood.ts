/**
 * The flooding tenant of `npm run bench:tenants`, in a process of its own so that answering its
 * flood does not slow the measuring process's event loop (which would count against tenant B's
 * latency without being the server's doing). Posts batches of messages as fast as answered over
 * FLOOD_CONNECTIONS keep-alive connections, ignoring Retry-After (a tenant that misbehaves),
 * for FLOOD_SECONDS from the line "go" on its stdin (it prints "ready" when it can start, so the
 * measuring process knows when the flood begins); then prints one JSON line of what it was
 * answered and exits.
 *
 *   FLOOD_URL, FLOOD_PROJECT, FLOOD_SECONDS, FLOOD_CONNECTIONS, FLOOD_BATCH
 */
import { Pool } from 'undici';

const url = process.env.FLOOD_URL as string;
const project = process.env.FLOOD_PROJECT ?? 'tenant-a';
const seconds = Number(process.env.FLOOD_SECONDS ?? 10);
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

process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    if (chunk.includes('go')) resolve();
  });
});
process.stdin.pause();

const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const counts = { accepted: 0, refused: 0, other: 0, retry_after_s: [] as number[] };
const until = performance.now() + seconds * 1000;

async function flood(queue: string): Promise<void> {
  while (performance.now() < until) {
    try {
      const r = await pool.request({ method: 'POST', path: `/v2/queues/${queue}/messages`, headers, body });
      await r.body.dump();
      if (r.statusCode === 201) counts.accepted++;
      else if (r.statusCode === 429) {
        counts.refused++;
        // A sample of the waits the server asked for, to show they are sensible.
        if (counts.refused % 1000 === 1) counts.retry_after_s.push(Number(r.headers['retry-after']));
      } else counts.other++;
    } catch {
      counts.other++;
    }
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: connections }, (_, i) => flood(`flood-${i % 8}`)));
const elapsed = (performance.now() - t0) / 1000;
await pool.close();
process.stdout.write(`${JSON.stringify({ ...counts, seconds: elapsed })}\n`);
