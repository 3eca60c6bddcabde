import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { request } from 'undici';
import { RequestFailedError } from '../core/index.js';
import { loadServerConfig } from '../server/config.js';
import type { CliIo } from './cli-io.js';

/** What every command that talks to a running server takes: where it is and who is asking. */
export interface ServerFlags {
  url?: string;
  token?: string;
  project?: string;
  adminToken?: string;
  config?: string;
  json?: boolean;
}

/** The options of ServerFlags, on a command. */
export function serverOptions(command: Command): Command {
  return command
    .option('--url <url>', "the server's base URL (default: from the configuration, else http://127.0.0.1:8888)")
    .option('--project <id>', 'the project (X-Project-ID; default: $POSTHORN_PROJECT)')
    .option(
      '--token <token>',
      'the credential: a keystone token, or a Posthorn token or API key (default: $POSTHORN_TOKEN)',
    )
    .option('--admin-token <token>', 'the admin token (default: $POSTHORN_ADMIN_TOKEN, else [admin] token)')
    .option('--config <file>', 'the configuration file to read the URL and admin token from')
    .option('--json', 'print JSON for scripts');
}

/**
 * The server's URL and the admin token: flags, then environment, then the configuration file
 * `posthorn serve` reads (its host and port, its `[admin] token`).
 */
export function serverEndpoint(
  io: CliIo,
  flags: Pick<ServerFlags, 'url' | 'adminToken' | 'config'>,
): { url: string; adminToken: string | undefined } {
  let url = flags.url;
  let adminToken = flags.adminToken ?? io.env.POSTHORN_ADMIN_TOKEN;
  if (url === undefined || adminToken === undefined) {
    const config = loadServerConfig({
      flags: flags.config !== undefined ? { config: flags.config } : {},
      env: io.env,
      cwd: io.cwd(),
    });
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
    adminToken ??= config.adminToken ?? undefined;
  }
  return { url: url.replace(/\/+$/, ''), adminToken };
}

export type Json = Record<string, unknown>;

/**
 * A Zaqar v2 client for the operator's commands, as any client calls the server: one Client-ID
 * per command, the project in X-Project-ID, the credential in X-Auth-Token, the admin token in
 * X-Admin-Token. A refusal becomes a RequestFailedError carrying the server's description.
 */
export class ServerClient {
  readonly url: string;
  readonly project: string | undefined;
  private readonly headers: Record<string, string>;

  constructor(io: CliIo, flags: ServerFlags) {
    const { url, adminToken } = serverEndpoint(io, flags);
    this.url = url;
    this.project = flags.project ?? io.env.POSTHORN_PROJECT;
    const token = flags.token ?? io.env.POSTHORN_TOKEN;
    this.headers = {
      'client-id': randomUUID(),
      accept: 'application/json',
      ...(this.project !== undefined ? { 'x-project-id': this.project } : {}),
      ...(token !== undefined ? { 'x-auth-token': token } : {}),
      ...(adminToken !== undefined ? { 'x-admin-token': adminToken } : {}),
    };
  }

  get(path: string): Promise<Json | undefined> {
    return this.call('GET', path);
  }

  post(path: string, body: unknown): Promise<Json | undefined> {
    return this.call('POST', path, body);
  }

  /**
   * A GET whose answer is not JSON (GET /metrics): its status and text, refusals included — the
   * caller decides what a 404 means. Only an unreachable server throws.
   */
  /** A GET of `path` on the server, or of a whole URL (a metrics port's), with the same credentials. */
  async getText(path: string): Promise<{ status: number; text: string }> {
    const target = /^https?:\/\//.test(path) ? path : `${this.url}${path}`;
    try {
      const response = await request(target, { method: 'GET', headers: { ...this.headers, accept: 'text/plain' } });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (error) {
      throw new RequestFailedError(
        target,
        null,
        `cannot reach ${new URL(target).origin}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Every queue of the project, following the pages. */
  async listQueues(): Promise<{ name: string; metadata?: Json }[]> {
    const queues: { name: string; metadata?: Json }[] = [];
    let path: string | null = '/v2/queues?limit=20&detailed=true';
    while (path !== null) {
      const page: Json = (await this.get(path)) ?? {};
      const got = (page.queues as { name: string; metadata?: Json }[] | undefined) ?? [];
      queues.push(...got);
      const next = (page.links as { rel: string; href: string }[] | undefined)?.find((l) => l.rel === 'next');
      path = got.length === 0 || next === undefined ? null : next.href;
    }
    return queues;
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Json | undefined> {
    const target = `${this.url}${path}`;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(target, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new RequestFailedError(target, null, `cannot reach ${this.url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON: reported below when it is an error, else ignored
    }
    if (response.statusCode >= 400) {
      const answer = (parsed ?? {}) as Json;
      const description = typeof answer.description === 'string' ? answer.description : text;
      const title = typeof answer.title === 'string' ? ` ${answer.title}` : '';
      throw new RequestFailedError(
        target,
        response.statusCode,
        `${method} ${path} answered ${response.statusCode}${title}: ${description}`,
      );
    }
    return parsed as Json | undefined;
  }
}

/** `project/queue` or `queue`: a queue named with its project overrides --project. */
export function queueTarget(text: string, flags: ServerFlags): { queue: string; flags: ServerFlags } {
  const slash = text.lastIndexOf('/');
  if (slash <= 0) return { queue: text, flags };
  return { queue: text.slice(slash + 1), flags: { ...flags, project: text.slice(0, slash) } };
}
