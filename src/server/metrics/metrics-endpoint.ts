import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ForbiddenError, UnauthenticatedError } from '../../core/index.js';
import type { AccessControl } from '../../service/index.js';
import type { PosthornMetrics } from './posthorn-metrics.js';

export interface MetricsAnswer {
  status: number;
  type: string;
  body: string;
}

/**
 * Who may scrape: anyone while the server has neither an admin token nor an auth strategy (as
 * RabbitMQ's prometheus plugin is open by default); otherwise an admin — the admin token in
 * X-Admin-Token, or a credential with an admin role — as Zaqar's admin API asks. Refusals are
 * Zaqar's error bodies: 401 without any credential, 403 with one that is not an admin's.
 */
export class MetricsGate {
  constructor(
    private readonly access: AccessControl,
    private readonly gated: boolean,
  ) {}

  async refusal(headers: IncomingHttpHeaders): Promise<MetricsAnswer | null> {
    if (!this.gated) return null;
    const adminToken = header(headers['x-admin-token']);
    const token = header(headers['x-auth-token']) ?? bearer(header(headers.authorization));
    if (adminToken === undefined && token === undefined) {
      return refused(401, 'Authentication required', 'GET /metrics needs X-Admin-Token or an admin credential.');
    }
    try {
      const granted = await this.access.authorize({
        action: 'health:get',
        credentials: { token, projectId: header(headers['x-project-id']) },
        adminToken,
        signed: false,
        needsProject: false,
      });
      if (granted.admin) return null;
    } catch (error) {
      if (error instanceof UnauthenticatedError) return refused(401, 'Authentication required', error.message);
      if (!(error instanceof ForbiddenError)) throw error;
    }
    return refused(403, 'Not authorized', 'GET /metrics is for admins.');
  }
}

/** Answers one scrape: the gate, then the text. A store that is down never makes it fail. */
export async function answerScrape(
  metrics: PosthornMetrics,
  gate: MetricsGate,
  headers: IncomingHttpHeaders,
): Promise<MetricsAnswer> {
  const refusal = await gate.refusal(headers);
  if (refusal !== null) return refusal;
  return { status: 200, type: metrics.contentType, body: await metrics.scrape() };
}

/**
 * GET /metrics on the HTTP app (called before it listens). The app counts its other requests
 * itself (HttpAppOptions.requestObserver); this route is added outside its router, so it counts
 * its own.
 */
export function serveMetricsRoute(app: FastifyInstance, metrics: PosthornMetrics, gate: MetricsGate): void {
  const counter = metrics.route('GET', '/metrics');
  app.get('/metrics', async (request, reply) => {
    const answer = await answerScrape(metrics, gate, request.headers);
    counter.answered(answer.status, reply.elapsedTime / 1000, null);
    return reply.code(answer.status).type(answer.type).send(answer.body);
  });
}

/** GET /metrics alone on a port of its own (`metrics_port`); every other path is a 404. */
export async function listenMetrics(
  metrics: PosthornMetrics,
  gate: MetricsGate,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    const answering: Promise<MetricsAnswer> =
      request.method === 'GET' && path === '/metrics'
        ? answerScrape(metrics, gate, request.headers)
        : Promise.resolve(refused(404, 'Not found', `There is no resource at ${path}.`));
    answering
      .catch(() => refused(500, 'Internal server error', 'The metrics could not be read.'))
      .then((answer) => {
        response.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function refused(status: number, title: string, description: string): MetricsAnswer {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify({ title, description }) };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match === null ? undefined : match[1];
}
