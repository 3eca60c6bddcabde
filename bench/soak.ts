/**
 * `npm run soak -- --minutes N`: SIGKILL rounds of `posthorn serve` under mixed load (issue 12).
 * Not a test and not in CI: it runs for as long as it is told to and reports what it found.
 *
 * Each round starts the compiled server (`node dist/cli/main.js serve`; `npm run soak` builds
 * first) in a process group of its own on one data folder, drives it from several concurrent
 * HTTP clients — single and batched posts, claims with short TTLs that are deleted with their
 * claim id, left to expire, updated or released, deletes by id and in bulk, pops, and queues
 * created, filled and deleted — and SIGKILLs the group at a random moment. The next server is
 * started at once on the same folder, as a supervisor with a short restart delay would. Clients
 * record what they sent and what was acknowledged (a 2xx received); when time is up, the last
 * server's whole state is listed and bench/soak-check.ts judges the history against it: nothing
 * acknowledged lost, undone, duplicated or changed, no two live claims on one message.
 *
 *   --minutes N     how long to run the rounds (default 5)
 *   --store disk    the store: disk (the default); memory is the control, which keeps nothing
 *                   across a kill, so the soak must report every message it held as lost; redis or
 *                   postgres: pooling on, every queue in a fresh namespace of the shared server
 *                   (bench/pools.ts: REDIS_URL, DATABASE_URL), the catalogue in the data folder;
 *                   only `posthorn serve` is killed, never the pool's server
 *   --clients N     concurrent clients (default 8)
 *   --round-min S / --round-max S   seconds of load before each kill (default 2 and 12)
 *
 * Prints one JSON line per figure (bench/lib.ts) and exits 1 on any finding. The data folder and
 * the servers' logs are kept when something was found, and their place is printed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { emit, percentile } from './lib.js';
import { type BenchPool, benchPool } from './pools.js';
import { ROOT } from './serve-process.js';
import {
  type ClaimChangeOp,
  type ClaimOp,
  canonicalJson,
  checkSoak,
  type DeleteOp,
  type FinalState,
  type PopOp,
  type PostOp,
  type QueueDeleteOp,
  type Served,
  type SoakHistory,
  type Timed,
} from './soak-check.js';

const { values: options } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    store: { type: 'string', default: 'disk' },
    clients: { type: 'string', default: '8' },
    'round-min': { type: 'string', default: '2' },
    'round-max': { type: 'string', default: '12' },
  },
});
const MINUTES = Number(options.minutes);
const STORE = options.store ?? 'disk';
const CLIENTS = Number(options.clients);
const ROUND_MIN_S = Number(options['round-min']);
const ROUND_MAX_S = Number(options['round-max']);
if (!(MINUTES > 0) || !(CLIENTS > 0) || !(ROUND_MIN_S > 0) || !(ROUND_MAX_S >= ROUND_MIN_S)) {
  throw new RangeError('--minutes, --clients, --round-min and --round-max must be positive (min <= max)');
}
if (!['disk', 'memory', 'redis', 'postgres'].includes(STORE)) {
  throw new RangeError(`--store ${STORE}: disk, memory (the control), redis or postgres`);
}

const SERVER_MAIN = join(ROOT, 'dist', 'cli', 'main.js');
if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: run \`npm run build\` first`);

const SHARED_QUEUES = ['soak-0', 'soak-1', 'soak-2', 'soak-3'];
const PROJECT = 'soak';
const MESSAGE_TTL = 43_200; // longer than any soak, so nothing expires and every absence means something
/** Above this many messages believed queued, producers hold back so the final listing stays short. */
const BACKLOG_LIMIT = 4000;
/** An answer slower than this is counted as a timeout (an unanswered request). */
const REQUEST_TIMEOUT_MS = 30_000;

const work = mkdtempSync(join(tmpdir(), 'posthorn-soak-'));
const data = join(work, 'data');
const config = join(work, 'posthorn.toml');
// Short claim TTLs (Zaqar's minimum is 60 s) so that claims expire and are taken again many times
// within a round; no request log, to keep the servers' log to what matters.
const pool: BenchPool | null = STORE === 'redis' || STORE === 'postgres' ? benchPool(STORE) : null;
writeFileSync(
  config,
  'log_requests = false\n[limits]\nmin_claim_ttl = 1\nmin_claim_grace = 0\n' +
    (pool === null
      ? ''
      : `[pooling]\ndefault_pool = "soak"\n[[pooling.pools]]\nname = "soak"\nuri = ${JSON.stringify(pool.uri)}\nweight = 100\n`),
);
const serverLog = createWriteStream(join(work, 'servers.log'));

const random = (n: number): number => Math.floor(Math.random() * n);
const between = (a: number, b: number): number => a + random(b - a + 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- The server, one per round -----------------------------------------------------------------

interface Serving {
  epoch: number;
  url: string;
  agent: Agent;
  child: ChildProcess;
}

let current: Serving | null = null;
let epoch = 0;
let waiters: (() => void)[] = [];
let stopping = false;
const restartMs: number[] = [];
let restartsFailed = 0;

/** Resolves with the serving server, waiting for one if none serves now. */
async function serving(after = 0): Promise<Serving | null> {
  for (;;) {
    if (current !== null && current.epoch > after) return current;
    if (stopping) return null;
    await new Promise<void>((r) => waiters.push(r));
  }
}

/** Starts a server on the folder and waits for its URL; answers null when it exits first. */
function spawnServer(round: number): Promise<{ child: ChildProcess; url: string } | null> {
  const child = spawn(
    process.execPath,
    [
      SERVER_MAIN,
      'serve',
      '--port',
      '0',
      '--ws-port',
      '0',
      '--data',
      data,
      '--config',
      config,
      '--store',
      pool === null ? STORE : 'disk',
    ],
    {
      cwd: work,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSTHORN_LOG_LEVEL: 'info' },
    },
  );
  serverLog.write(`--- round ${round}: pid ${child.pid}\n`);
  child.stderr?.on('data', (chunk: Buffer) => serverLog.write(chunk));
  return new Promise((resolve) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      serverLog.write(chunk);
      if (out.length < 200_000) out += chunk;
      const match = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"posthorn serving"/.exec(out);
      if (match?.[1]) resolve({ child, url: match[1] });
    });
    child.once('exit', (code, signal) => {
      serverLog.write(`--- round ${round}: pid ${child.pid} exited (${code ?? signal})\n`);
      resolve(null);
    });
  });
}

/** Starts the next server, retrying while it fails to start; records the time to its first answer. */
async function startServer(round: number, killedAt: number | null): Promise<Serving> {
  const began = killedAt ?? Date.now();
  for (let attempt = 0; ; attempt++) {
    const started = await spawnServer(round);
    if (started !== null) {
      const agent = new Agent({ connections: CLIENTS * 2, keepAliveTimeout: 10_000 });
      for (;;) {
        const ping = await request(`${started.url}/v2/ping`, { dispatcher: agent, headers: headers(0) }).catch(
          () => null,
        );
        if (ping !== null) {
          await ping.body.dump();
          if (ping.statusCode === 204) break;
        }
        await sleep(20);
      }
      if (killedAt !== null) restartMs.push(Date.now() - began);
      epoch++;
      const next = { epoch, url: started.url, agent, child: started.child };
      current = next;
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
      return next;
    }
    restartsFailed++;
    if (Date.now() - began > 120_000) throw new Error(`round ${round}: no server would start in 2 minutes`);
    await sleep(Math.min(1000, 50 * 2 ** attempt));
  }
}

/** SIGKILLs the server's whole process group; the next server is started without waiting for it. */
function killServer(server: Serving): number {
  current = null;
  const at = Date.now();
  try {
    process.kill(-(server.child.pid as number), 'SIGKILL');
  } catch {}
  void server.agent.destroy().catch(() => {});
  return at;
}

// --- HTTP -------------------------------------------------------------------------------------

const CLIENT_IDS = Array.from({ length: CLIENTS + 1 }, () => randomUUID());

function headers(client: number): Record<string, string> {
  return {
    'client-id': CLIENT_IDS[client] as string,
    'x-project-id': PROJECT,
    'content-type': 'application/json',
  };
}

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

/** Why a request got no answer the checker can use. */
class NoAnswer extends Error {
  constructor(
    readonly delivered: boolean,
    cause: unknown,
  ) {
    super(delivered ? 'no answer' : 'not delivered', { cause });
  }
}

const refusedByStatus = new Map<string, number>();
let timeouts = 0;
let requests = 0;

async function call(
  server: Serving,
  client: number,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH',
  path: string,
  body?: unknown,
): Promise<Answer> {
  requests++;
  try {
    const response = await request(`${server.url}${path}`, {
      method,
      dispatcher: server.agent,
      headers: headers(client),
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    const answer = {
      status: response.statusCode,
      json: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
    };
    if (answer.status >= 300) {
      const route = path
        .replace(/\?.*/, '')
        .replace(/\/[0-9a-f]{32}/g, '/{id}')
        .replace(/eph-\d+-\d+/, 'eph-*')
        .replace(/soak-\d+/, 'soak-*');
      const key = `${method} ${route} ${answer.status}`;
      refusedByStatus.set(key, (refusedByStatus.get(key) ?? 0) + 1);
    }
    return answer;
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') timeouts++;
    // A refused connection carried nothing to the server: certainly not done.
    throw new NoAnswer(code !== 'ECONNREFUSED', error);
  }
}

// --- The history ------------------------------------------------------------------------------

const history: SoakHistory = { posts: [], deletes: [], pops: [], claims: [], claimChanges: [], queueDeletes: [] };
let round = 0;

function timed(queue: string): Timed & { round: number } {
  return { queue, sentAt: Date.now(), answeredAt: null, ok: false, round };
}

/** Runs one recorded request: `settle` fills in what a 2xx said; a lost answer leaves it unanswered. */
async function recorded<T extends Timed>(
  op: T,
  attempt: () => Promise<Answer>,
  settle: (answer: Answer) => void = () => {},
): Promise<Answer | null> {
  try {
    const answer = await attempt();
    op.answeredAt = Date.now();
    op.ok = answer.status >= 200 && answer.status < 300;
    if (op.ok) settle(answer);
    return answer;
  } catch (error) {
    if (error instanceof NoAnswer && !error.delivered) op.answeredAt = Date.now();
    throw error;
  }
}

/**
 * What the checker compares bodies by: a digest of the canonical JSON, so that millions of
 * recorded bodies fit in memory; a changed body changes its digest all the same.
 */
const bodyKey = (body: unknown): string => createHash('sha1').update(canonicalJson(body)).digest('base64');
const served = (m: { id: string; body: unknown }): Served => ({ id: m.id, body: bodyKey(m.body) });
const idOf = (href: string): string => href.replace(/\?.*/, '').split('/').pop() as string;

/**
 * Messages queued in the shared queues: counted from the answers, and set from the queues' stats
 * every half second (counting alone drifts: a bulk delete may name messages already gone).
 */
let backlog = 0;

async function watchBacklog(): Promise<void> {
  for (let server = await serving(); server !== null; server = await serving(server.epoch - 1)) {
    try {
      let total = 0;
      for (const queue of SHARED_QUEUES) {
        const answer = await call(server, CLIENTS, 'GET', `/v2/queues/${queue}/stats`);
        total += Number((answer.json.messages as { total?: number } | undefined)?.total ?? 0);
      }
      backlog = total;
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      await serving(server.epoch);
    }
    await sleep(500);
  }
}

// --- The clients ------------------------------------------------------------------------------

class SoakClient {
  private seq = 0;
  private queues = 0;
  /** Ids this client posted to shared queues, for deletes by id and in bulk. */
  private readonly mine: { queue: string; id: string }[] = [];

  constructor(private readonly index: number) {}

  private body(): unknown {
    const tag = `c${this.index}-${this.seq++}`;
    const pad = 'x'.repeat(random(100));
    return random(2) === 0 ? `${tag}-${pad}` : { tag, pad, n: this.seq, list: [random(1000), { deep: tag }] };
  }

  async run(): Promise<void> {
    let server = await serving();
    while (server !== null) {
      try {
        await this.step(server);
      } catch (error) {
        if (!(error instanceof NoAnswer)) throw error;
        server = await serving(server.epoch);
        continue;
      }
      if (current !== server) server = await serving(server.epoch);
    }
  }

  private async step(server: Serving): Promise<void> {
    const dice = random(100);
    const producing = backlog < BACKLOG_LIMIT;
    if (dice < 20 && producing) return this.post(server, 1);
    if (dice < 40 && producing) return this.post(server, between(2, 20));
    if (dice < 70) return this.claim(server);
    if (dice < 78) return this.deleteMine(server);
    if (dice < 88) return this.pop(server);
    if (dice < 92) return this.queueLifecycle(server);
    return this.claim(server);
  }

  private async post(server: Serving, count: number, queue = SHARED_QUEUES[random(SHARED_QUEUES.length)] as string) {
    const bodies = Array.from({ length: count }, () => this.body());
    const op: PostOp = { ...timed(queue), bodies: bodies.map(bodyKey), ids: [] };
    history.posts.push(op);
    await recorded(
      op,
      () =>
        call(server, this.index, 'POST', `/v2/queues/${queue}/messages`, {
          messages: bodies.map((body) => ({ body, ttl: MESSAGE_TTL })),
        }),
      (answer) => {
        op.ids = (answer.json.resources as string[]).map(idOf);
        if (SHARED_QUEUES.includes(queue)) {
          backlog += op.ids.length;
          for (const id of op.ids) this.mine.push({ queue, id });
          if (this.mine.length > 400) this.mine.splice(0, this.mine.length - 400);
        }
      },
    );
  }

  private async claim(server: Serving, queue = SHARED_QUEUES[random(SHARED_QUEUES.length)] as string) {
    const ttl = between(1, 4);
    const op: ClaimOp = { ...timed(queue), claimId: null, ttl, messages: [] };
    history.claims.push(op);
    const answer = await recorded(
      op,
      () => call(server, this.index, 'POST', `/v2/queues/${queue}/claims?limit=${between(1, 10)}`, { ttl, grace: 0 }),
      (a) => {
        if (a.status === 204) return;
        const messages = a.json.messages as { id: string; href: string; body: unknown }[];
        op.messages = messages.map(served);
        op.claimId = new URL(messages[0]?.href ?? '/', 'http://x').searchParams.get('claim_id');
      },
    );
    if (answer?.status !== 201 || op.claimId === null) return;
    const claimId = op.claimId;
    if (random(5) === 0) {
      // Extend it (never shorten: the checker's holds assume so only for acknowledged updates).
      const change: ClaimChangeOp = { ...timed(queue), claimId, ttl: ttl + between(0, 4) };
      history.claimChanges.push(change);
      await recorded(change, () =>
        call(server, this.index, 'PATCH', `/v2/queues/${queue}/claims/${claimId}`, { ttl: change.ttl, grace: 0 }),
      );
    }
    const fate = random(10);
    if (fate < 7) {
      // Done with them: delete each with the claim id, a few at once.
      await Promise.all(op.messages.map((m) => this.deleteOne(server, queue, m.id, claimId)));
    } else if (fate < 9) {
      const release: ClaimChangeOp = { ...timed(queue), claimId, ttl: null };
      history.claimChanges.push(release);
      await recorded(release, () => call(server, this.index, 'DELETE', `/v2/queues/${queue}/claims/${claimId}`));
    }
    // else: abandoned, to expire and be claimed again.
  }

  private async deleteOne(server: Serving, queue: string, id: string, claimId: string | null): Promise<void> {
    const op: DeleteOp = { ...timed(queue), ids: [id] };
    history.deletes.push(op);
    const query = claimId === null ? '' : `?claim_id=${claimId}`;
    await recorded(
      op,
      () => call(server, this.index, 'DELETE', `/v2/queues/${queue}/messages/${id}${query}`),
      () => {
        if (SHARED_QUEUES.includes(queue)) backlog--;
      },
    );
  }

  /** Deletes messages this client posted, by id (unclaimed ones) or in bulk by ids. */
  private async deleteMine(server: Serving): Promise<void> {
    if (this.mine.length === 0) return this.post(server, between(1, 5));
    const picked = this.mine.splice(random(this.mine.length), between(1, 20));
    const queue = (picked[0] as { queue: string }).queue;
    const ids = picked.filter((m) => m.queue === queue).map((m) => m.id);
    if (ids.length === 1 && random(2) === 0) return this.deleteOne(server, queue, ids[0] as string, null);
    const op: DeleteOp = { ...timed(queue), ids };
    history.deletes.push(op);
    await recorded(
      op,
      () => call(server, this.index, 'DELETE', `/v2/queues/${queue}/messages?ids=${ids.join(',')}`),
      () => {
        backlog -= ids.length;
      },
    );
  }

  private async pop(server: Serving): Promise<void> {
    const queue = SHARED_QUEUES[random(SHARED_QUEUES.length)] as string;
    const op: PopOp = { ...timed(queue), limit: between(1, 5), messages: [] };
    history.pops.push(op);
    await recorded(
      op,
      () => call(server, this.index, 'DELETE', `/v2/queues/${queue}/messages?pop=${op.limit}`),
      (answer) => {
        op.messages = ((answer.json.messages ?? []) as { id: string; body: unknown }[]).map(served);
        backlog -= op.messages.length;
      },
    );
  }

  /** A queue of its own: created, filled, perhaps claimed from, deleted; one request at a time. */
  private async queueLifecycle(server: Serving): Promise<void> {
    const queue = `eph-${this.index}-${this.queues++}`;
    ephemeralQueues.add(queue);
    await call(server, this.index, 'PUT', `/v2/queues/${queue}`, { _default_message_ttl: MESSAGE_TTL });
    for (let i = between(1, 3); i > 0; i--) await this.post(server, between(1, 20), queue);
    if (random(2) === 0) await this.claim(server, queue);
    if (random(5) === 0) return; // left behind, to be checked at the end like any queue
    const op: QueueDeleteOp = timed(queue);
    history.queueDeletes.push(op);
    await recorded(op, () => call(server, this.index, 'DELETE', `/v2/queues/${queue}`));
  }
}

const ephemeralQueues = new Set<string>();

// --- The final state --------------------------------------------------------------------------

async function listEverything(server: Serving): Promise<FinalState> {
  const names = new Set([...SHARED_QUEUES, ...ephemeralQueues]);
  let path: string | null = '/v2/queues?limit=20';
  while (path !== null) {
    const answer = await call(server, CLIENTS, 'GET', path);
    const queues = (answer.status === 200 ? (answer.json.queues as { name: string }[]) : []) ?? [];
    for (const q of queues) names.add(q.name);
    const next = (answer.json.links as { rel: string; href: string }[] | undefined)?.find((l) => l.rel === 'next');
    path = queues.length > 0 && next ? next.href : null;
  }
  const final: FinalState = new Map();
  for (const queue of names) {
    const messages: Served[] = [];
    let page: string | null = `/v2/queues/${queue}/messages?limit=20&echo=true&include_claimed=true`;
    while (page !== null) {
      const answer = await call(server, CLIENTS, 'GET', page);
      if (answer.status === 404 || answer.status === 204) break;
      if (answer.status !== 200)
        throw new Error(`listing ${queue} answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      const got = (answer.json.messages ?? []) as { id: string; body: unknown }[];
      messages.push(...got.map(served));
      const next = (answer.json.links as { rel: string; href: string }[] | undefined)?.find((l) => l.rel === 'next');
      page = got.length > 0 && next ? next.href : null;
    }
    final.set(queue, messages);
  }
  return final;
}

// --- The soak ---------------------------------------------------------------------------------

const soakStarted = Date.now();
const deadline = soakStarted + MINUTES * 60_000;
let server = await startServer(round, null);
const clients = [...Array.from({ length: CLIENTS }, (_, i) => new SoakClient(i).run()), watchBacklog()];
const roundSeconds: number[] = [];
for (;;) {
  const seconds = ROUND_MIN_S + Math.random() * (ROUND_MAX_S - ROUND_MIN_S);
  await sleep(seconds * 1000);
  roundSeconds.push(seconds);
  const killedAt = killServer(server);
  round++;
  const last = Date.now() >= deadline;
  if (last) {
    // Let the clients see the kill and stop before the last server starts, so the listing is
    // of a state nobody changes.
    stopping = true;
    for (const wake of waiters.splice(0)) wake();
    await Promise.all(clients);
  }
  server = await startServer(round, killedAt);
  if (last) break;
}
const roundsEnded = Date.now();
const final = await listEverything(server);
server.child.kill('SIGTERM');
const [stopCode] = await new Promise<[number | null, string | null]>((r) =>
  server.child.once('exit', (code, signal) => r([code, signal])),
);
await server.agent.close();
serverLog.end();

const judged = Date.now();
const verdict = checkSoak(history, final);
const checkSeconds = Math.round((Date.now() - judged) / 100) / 10;
const target = STORE;
const figure = (op: string, count: number, note?: string) =>
  emit({ bench: 'soak', target, op, count, ...(note ? { note } : {}) });
figure('minutes', Math.round((roundsEnded - soakStarted) / 600) / 100, 'of kill rounds under load');
figure('check-seconds', checkSeconds, 'judging the history against the final state (the listing not included)');
figure('kill-rounds', round, `SIGKILL after ${ROUND_MIN_S}-${ROUND_MAX_S} s of load, ${CLIENTS} clients`);
figure('requests', requests);
figure('acknowledged-posts', verdict.acknowledged.posts, `${verdict.acknowledged.messages} messages`);
figure('acknowledged-deletes', verdict.acknowledged.deletes, 'messages, by id with or without claim, and in bulk');
figure('acknowledged-pops', verdict.acknowledged.pops, `${verdict.acknowledged.popped} messages`);
figure('acknowledged-claims', verdict.acknowledged.claims, `${verdict.acknowledged.claimed} messages`);
figure('acknowledged-claim-changes', verdict.acknowledged.claimChanges, 'updates and releases');
figure('acknowledged-queue-deletes', verdict.acknowledged.queueDeletes);
figure('present-at-end', verdict.present);
figure('lost', verdict.lost);
figure('undone', verdict.undone);
figure('duplicated', verdict.duplicated);
figure('changed', verdict.changed);
figure('overlapping-claims', verdict.overlappingClaims);
figure('unknown', verdict.unknown, 'messages served that nobody posted there');
const f = verdict.inFlight;
figure(
  'in-flight',
  f.posts + f.deletes + f.pops + f.claims + f.claimChanges + f.queueDeletes,
  `unanswered at a kill (either outcome allowed): ${f.posts} posts (${f.postsLanded} landed), ${f.deletes} deletes, ${f.pops} pops, ${f.claims} claims, ${f.claimChanges} claim changes, ${f.queueDeletes} queue deletes; acknowledged messages absent that they may have taken: ${f.missingTakenByInFlightPops} by pops, ${f.missingTakenByInFlightDeletes} by deletes`,
);
figure('timeouts', timeouts, `answers slower than ${REQUEST_TIMEOUT_MS / 1000} s`);
figure('restarts-failed', restartsFailed, 'servers that exited before serving (each was started again)');
emit({
  bench: 'soak',
  target,
  op: 'restart-first-answer',
  count: restartMs.length,
  p50_ms: percentile(restartMs, 50),
  p99_ms: percentile(restartMs, 99),
  max_ms: Math.max(0, ...restartMs),
  note: 'from the SIGKILL to the new server answering /v2/ping',
});
figure('final-stop', stopCode ?? -1, 'exit code of the last server on SIGTERM');
figure(
  'refused',
  [...refusedByStatus.values()].reduce((a, b) => a + b, 0),
  [...refusedByStatus].map(([k, n]) => `${k}: ${n}`).join('; '),
);
for (const finding of verdict.findings)
  figure(`finding-${finding.kind}`, 1, `${finding.queue} ${finding.id}: ${finding.detail}`);

const bad =
  verdict.lost + verdict.undone + verdict.duplicated + verdict.changed + verdict.overlappingClaims + verdict.unknown;
if (bad > 0 || stopCode !== 0) {
  try {
    writeFileSync(join(work, 'history.json'), JSON.stringify({ history, final: [...final] }));
  } catch (error) {
    // A long soak's history can outgrow the longest string V8 makes: keep what was found.
    writeFileSync(join(work, 'history.json'), JSON.stringify({ error: String(error), findings: verdict.findings }));
  }
  figure(
    'kept',
    1,
    `data, servers.log and history.json kept in ${work}${pool ? `, the pool's ${pool.namespace}` : ''}`,
  );
  process.exit(1);
}
await pool?.dispose();
rmSync(work, { recursive: true, force: true });
