/**
 * What the process-level pool tests share: configuration files for `posthorn serve` over a shared
 * PostgreSQL catalogue with Redis and PostgreSQL pools, HTTP calls, and producers and consumers
 * that keep a ledger so a test can check that every acknowledged message was delivered exactly once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { ROOT } from '../interop/serve-process.js';
import { DATABASE_URL, dropSchema, freshSchema } from '../store/postgres-support.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from '../store/redis/support.js';

export const TOKEN = 'pool-process-tests-admin-token-0123';
export const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';

export function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.href;
}

/** Temp folders, Redis prefixes and PostgreSQL schemas of a test, removed by `cleanup`. */
export class Resources {
  private readonly dirs: string[] = [];
  private readonly prefixes: string[] = [];
  private readonly schemas: string[] = [];

  dir(label: string): string {
    const dir = mkdtempSync(join(tmpdir(), `posthorn-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  redis(): string {
    const prefix = uniquePrefix();
    this.prefixes.push(prefix);
    return withQuery(REDIS_URL, 'prefix', prefix);
  }

  postgres(tag: string): string {
    const schema = freshSchema(tag);
    this.schemas.push(schema);
    return withQuery(DATABASE_URL, 'schema', schema);
  }

  async cleanup(): Promise<void> {
    const admin = new Redis(REDIS_URL);
    for (const prefix of this.prefixes) await deleteKeys(admin, prefix).catch(() => {});
    admin.disconnect();
    for (const schema of this.schemas) await dropSchema(schema).catch(() => {});
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export interface PoolFile {
  catalog: string;
  pools: { name: string; uri: string; weight: number; flavor?: string }[];
  cacheSeconds?: number;
  settleSeconds?: number;
}

/** Writes a posthorn.toml for one server (its own data folder) and answers its path. */
export function writeConfig(dir: string, settings: PoolFile): string {
  const pools = settings.pools
    .map(
      (p) =>
        `[[pooling.pools]]\nname = "${p.name}"\nuri = "${p.uri}"\nweight = ${p.weight}\n${p.flavor ? `flavor = "${p.flavor}"\n` : ''}`,
    )
    .join('');
  const path = join(dir, 'posthorn.toml');
  writeFileSync(
    path,
    `ws_port = 0\ndata = "${join(dir, 'data')}"\nstore = "memory"\n` +
      `[pooling]\ncatalog = "${settings.catalog}"\ncache_seconds = ${settings.cacheSeconds ?? 0.3}\n` +
      `settle_seconds = ${settings.settleSeconds ?? 0.5}\n${pools}[admin]\ntoken = "${TOKEN}"\n`,
  );
  return path;
}

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });

export interface Answer {
  status: number;
  json: Record<string, unknown>;
}

export async function call(
  url: string,
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH',
  path: string,
  body?: unknown,
  project = 'procs',
): Promise<Answer> {
  const response = await request(`${url}${path}`, {
    method,
    dispatcher: agent,
    headers: {
      'client-id': CLIENT,
      'x-project-id': project,
      'content-type': 'application/json',
      'x-admin-token': TOKEN,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

/** What producers acknowledged and consumers received. */
export class Ledger {
  readonly acked = new Set<number>();
  readonly seen = new Map<number, number>();
  private next = 0;

  /** Posts `count` numbered messages through `url`; records them once the server says 201. */
  async post(url: string, queue: string, count: number): Promise<void> {
    const numbers = Array.from({ length: count }, () => this.next++);
    const answer = await call(url, 'POST', `/v2/queues/${queue}/messages`, {
      messages: numbers.map((n) => ({ body: { n }, ttl: 3600 })),
    });
    if (answer.status !== 201) throw new Error(`post answered ${answer.status}: ${JSON.stringify(answer.json)}`);
    for (const n of numbers) this.acked.add(n);
  }

  /** Claims through `url` until `stop()` and the queue is empty; deletes each message with its claim. */
  async consume(url: string, queue: string, stop: () => boolean): Promise<void> {
    for (;;) {
      const answer = await call(url, 'POST', `/v2/queues/${queue}/claims?limit=10`, { ttl: 300, grace: 60 });
      if (answer.status === 204) {
        if (stop()) return;
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (answer.status !== 201) throw new Error(`claim answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      for (const m of answer.json.messages as { body: { n: number }; href: string }[]) {
        this.seen.set(m.body.n, (this.seen.get(m.body.n) ?? 0) + 1);
        const deleted = await call(url, 'DELETE', m.href);
        if (deleted.status !== 204)
          throw new Error(`delete answered ${deleted.status}: ${JSON.stringify(deleted.json)}`);
      }
    }
  }

  /** Numbers delivered twice, and acknowledged numbers never delivered. */
  check(): { twice: number[]; lost: number[] } {
    return {
      twice: [...this.seen].filter(([, times]) => times > 1).map(([n]) => n),
      lost: [...this.acked].filter((n) => !this.seen.has(n)),
    };
  }
}

/** Runs `posthorn <args>` from source to its end; answers its exit code and output. */
export function runCli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`posthorn ${args.join(' ')} took over ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
