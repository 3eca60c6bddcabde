import type { FastifyInstance } from 'fastify';
import { buildHttpApp, type HttpAppOptions } from '../../../src/api/http/index.js';
import { FakeClock, type Limits, makeLimits } from '../../../src/core/index.js';
import {
  QueueService,
  type QueueServiceOptions,
  singleDriverResolver,
  storeLimits,
} from '../../../src/service/index.js';
import type { DataDriver } from '../../../src/store/contract/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';

export const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
export const OTHER_CLIENT = '8d1b5bc6-1f0b-4b8c-9c53-0f4b2d1f7a11';
export const PROJECT = 'test-project';
export const PATCH_TYPE = 'application/openstack-messaging-v2.0-json-patch';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field and assert on them
  json: any;
}

export interface CallOptions {
  /** A value is sent as JSON; a string or a Buffer as it is. */
  body?: unknown;
  headers?: Record<string, string | undefined>;
  contentType?: string;
}

export interface TestApi {
  app: FastifyInstance;
  service: QueueService;
  driver: DataDriver;
  clock: FakeClock;
  call(method: string, url: string, options?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

/** An app over a fresh memory store and a FakeClock, with a signing secret. */
export function testApi(
  options: {
    limits?: Partial<Limits>;
    service?: Partial<QueueServiceOptions>;
    driver?: DataDriver;
    app?: Omit<HttpAppOptions, 'service'>;
  } = {},
): TestApi {
  const clock = new FakeClock();
  const limits = makeLimits(options.limits);
  const driver = options.driver ?? createMemoryDriver({ clock, limits: storeLimits(limits) });
  const service = new QueueService({
    resolver: singleDriverResolver(driver),
    limits,
    clock,
    signedUrlSecret: 'test-secret',
    ...options.service,
  });
  const app = buildHttpApp({ ...options.app, service });
  return {
    app,
    service,
    driver,
    clock,
    async call(method, url, callOptions = {}) {
      const headers: Record<string, string> = { 'client-id': CLIENT, 'x-project-id': PROJECT };
      let payload: string | Buffer | undefined;
      if (callOptions.body !== undefined) {
        const body = callOptions.body;
        payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
        headers['content-type'] = callOptions.contentType ?? 'application/json';
      }
      for (const [key, value] of Object.entries(callOptions.headers ?? {})) {
        if (value === undefined) delete headers[key.toLowerCase()];
        else headers[key.toLowerCase()] = value;
      }
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(payload !== undefined ? { payload } : {}),
      });
      let json: unknown;
      try {
        json = response.body === '' ? undefined : JSON.parse(response.body);
      } catch {
        json = undefined;
      }
      return { status: response.statusCode, headers: response.headers, text: response.body, json };
    },
    close: () => app.close(),
  };
}

/** Posts `count` messages (bodies 0..count-1) and returns their ids. */
export async function post(api: TestApi, queue: string, count: number, extra: Record<string, unknown> = {}) {
  const answer = await api.call('POST', `/v2/queues/${queue}/messages`, {
    body: { messages: Array.from({ length: count }, (_, i) => ({ body: i, ttl: 300, ...extra })) },
  });
  if (answer.status !== 201) throw new Error(`post failed: ${answer.status} ${answer.text}`);
  return (answer.json.resources as string[]).map((href) => href.slice(href.lastIndexOf('/') + 1));
}

/** Everything a project holds in the store, to prove a refused request wrote nothing. */
export async function snapshot(driver: DataDriver, project = PROJECT) {
  const page = await driver.queues.list(project, { limit: 20, detailed: true });
  const queues = [];
  for (const q of page.queues) {
    const messages = await driver.messages.list(project, q.name, {
      limit: 20,
      echo: true,
      includeClaimed: true,
      includeDelayed: true,
    });
    const subs = await driver.subscriptions.list(project, q.name, { limit: 20 });
    queues.push({
      name: q.name,
      metadata: q.metadata,
      messages: messages.messages.map((m) => ({ id: m.id, body: m.body, ttl: m.ttl, claimId: m.claimId })),
      subscriptions: subs.subscriptions.map((s) => ({
        id: s.id,
        subscriber: s.subscriber,
        ttl: s.ttl,
        options: s.options,
      })),
    });
  }
  return queues;
}
