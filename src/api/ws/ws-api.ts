import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { isPlainObject, type Logger, LogThrottle, stderrLogger, UnauthenticatedError } from '../../core/index.js';
import {
  AccessControl,
  AccessPolicy,
  AdminToken,
  levelOf,
  NoauthAuthenticator,
  type PoolAdministration,
  type QueueService,
} from '../../service/index.js';
import { answerFor, logFailure } from '../shared/index.js';
import { ActionError, type ActionResult, type Body, HANDLERS } from './actions.js';
import { decodeFrame, encodeFrame, encodingName, reencode } from './frames.js';
import { ACTIONS, matchesSchema } from './request-schema.js';
import { WS_ACTIONS } from './ws-access.js';
import { verifyWsSignature } from './ws-signature.js';

export interface WebSocketApiOptions {
  service: QueueService;
  logger?: Logger;
  /** Largest frame read (bytes); a larger one closes its socket with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Pools and flavors (the service's pool administration); without it their actions answer 404. */
  pools?: PoolAdministration | null;
  /** The `[admin] token` pool and flavor requests must carry in X-Admin-Token. */
  adminToken?: string | null;
  /**
   * The base of the subscriber URI of a socket that subscribes itself: `<base><socket id>`, the
   * notification endpoint on this server's WebSocket port (see handleHttp).
   */
  notificationBase: () => string;
  /** One info line per request (action, status, milliseconds, project); default false. */
  logRequests?: boolean;
  /** Told of every action answered, with its status and seconds (the server's metrics). */
  observeAction?: ((action: string, status: number, seconds: number) => void) | null;
  /** Authentication and policy (service/auth), the same as the HTTP API's; default noauth. */
  access?: AccessControl;
}

/** Frames read ahead of the one being answered before a socket stops being read. */
const MAX_QUEUED_FRAMES = 64;
/** A client that does not read its answers is cut off past this many unsent bytes. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;
const NOTIFICATION_LIMIT_BYTES = 4 * 1024 * 1024;

/** The sentence of a 503 for each action (Zaqar's endpoints say what could not be done). */
const FAILED: Record<string, string> = {
  queue_list: 'Queues could not be listed.',
  queue_create: 'Queue could not be created.',
  queue_delete: 'Queue could not be deleted.',
  queue_get: 'Cannot retrieve queue.',
  queue_get_stats: 'Cannot retrieve queue stats.',
  queue_purge: 'Queue could not be purged.',
  queue_redrive: 'The dead letters could not be redriven.',
  message_post: 'No messages could be enqueued.',
  subscription_list: 'Subscriptions could not be listed.',
  subscription_create: 'Subscription could not be created.',
  subscription_delete: 'Subscription could not be deleted.',
};

interface Frame {
  data: RawData;
  binary: boolean;
}

class Connection {
  readonly id = randomUUID();
  readonly frames: Frame[] = [];
  running = false;
  paused = false;
  /** Notifications are pushed in the encoding of the last self-subscription request (Zaqar's rule). */
  notifyBinary = false;
  readonly subscriptions: { project: string; queue: string; id: string }[] = [];
  cleanup: Promise<void> | null = null;
  /** The credential `authenticate` accepted; each later request is checked with it again (so expiry counts). */
  token: string | null = null;

  constructor(readonly ws: WebSocket) {}
}

/**
 * Zaqar's WebSocket API: requests `{"action", "headers", "body"}`, answers
 * `{"request", "body", "headers": {"status"}}`, one answer per request in the order received,
 * over the same QueueService as the HTTP API.
 *
 * A frame that does not decode, is not an object, names no known action or does not match the
 * action's schema is answered with a 400 and the socket goes on. A frame over the size limit
 * closes its socket (1009): nothing of it was read. Each socket's requests are answered in order,
 * so a slow request delays only its own socket; a socket that sends faster than it is answered
 * stops being read until it catches up.
 *
 * `subscription_create` without a subscriber subscribes the socket itself: the subscription's
 * subscriber is this server's notification endpoint for the socket (as Zaqar does it), so
 * notifications go through the delivery spool like any webhook — from any server sharing the
 * store — and are pushed to the socket; its subscriptions are deleted when it closes.
 */
export class WebSocketApi {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Map<string, Connection>();
  private readonly log: Logger;
  private readonly admin: AdminToken;
  private readonly access: AccessControl;
  private readonly failures: LogThrottle;
  private closed = false;

  constructor(private readonly options: WebSocketApiOptions) {
    this.log = options.logger ?? stderrLogger;
    this.admin = new AdminToken(options.adminToken ?? null);
    const checkProject = (value: string | undefined) => options.service.checkProject(value);
    this.access =
      options.access ??
      new AccessControl(new NoauthAuthenticator(null, checkProject), new AccessPolicy(), this.admin, checkProject);
    this.failures = new LogThrottle(options.service.clock, 60_000);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes ?? 1024 * 1024,
      perMessageDeflate: false,
    });
  }

  /** Sockets open now. */
  get size(): number {
    return this.sockets.size;
  }

  /** Takes over an HTTP upgrade request (on the WebSocket port, or /v2/ws on the HTTP port). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
  }

  /**
   * Plain HTTP on the WebSocket port: the notification endpoint. `POST /<socket id>` with a JSON
   * body pushes it to that socket (200), or answers 404 when the socket is gone — a failure for
   * good, so the spool does not retry a notification no one can receive.
   */
  handleHttp(request: IncomingMessage, response: ServerResponse): void {
    const id = (request.url ?? '/').slice(1).split('?')[0] as string;
    if (request.method !== 'POST') {
      response.writeHead(request.method === 'GET' && id === '' ? 426 : 405, { connection: 'close' }).end();
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > NOTIFICATION_LIMIT_BYTES) {
        response.writeHead(413, { connection: 'close' }).end();
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (response.headersSent) return;
      const conn = this.sockets.get(id);
      if (!conn || conn.ws.readyState !== conn.ws.OPEN) {
        response.writeHead(404).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let frame: string | Buffer;
      try {
        frame = reencode(text, conn.notifyBinary);
      } catch {
        response.writeHead(400).end();
        return;
      }
      conn.ws.send(frame, { binary: conn.notifyBinary });
      response.writeHead(200).end();
    });
  }

  /** Closes every socket (1001) and deletes their subscriptions; resolves when that is done. */
  async close(): Promise<void> {
    this.closed = true;
    const cleanups: Promise<void>[] = [];
    for (const conn of this.sockets.values()) {
      conn.ws.close(1001, 'server shutting down');
      cleanups.push(this.release(conn));
    }
    await Promise.all(cleanups);
    for (const conn of this.sockets.values()) conn.ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const conn = new Connection(ws);
    this.sockets.set(conn.id, conn);
    ws.on('message', (data, binary) => {
      conn.frames.push({ data, binary });
      if (conn.frames.length >= MAX_QUEUED_FRAMES && !conn.paused) {
        conn.paused = true;
        ws.pause();
      }
      void this.drain(conn);
    });
    ws.on('error', (error) => this.log.warn({ socket: conn.id, err: error.message }, 'websocket error'));
    ws.on('close', () => {
      void this.release(conn).finally(() => this.sockets.delete(conn.id));
    });
  }

  /** Deletes the subscriptions the socket made to itself (once). */
  private release(conn: Connection): Promise<void> {
    conn.cleanup ??= (async () => {
      for (const s of conn.subscriptions.splice(0)) {
        try {
          await this.options.service.queues.unsubscribe(s.project, s.queue, s.id);
        } catch (error) {
          this.log.warn(
            { socket: conn.id, queue: s.queue, err: (error as Error).message },
            'a socket subscription could not be deleted; it ends with its ttl',
          );
        }
      }
    })();
    return conn.cleanup;
  }

  private async drain(conn: Connection): Promise<void> {
    if (conn.running) return;
    conn.running = true;
    try {
      for (let frame = conn.frames.shift(); frame !== undefined; frame = conn.frames.shift()) {
        if (conn.paused && conn.frames.length < MAX_QUEUED_FRAMES / 2) {
          conn.paused = false;
          conn.ws.resume();
        }
        await this.answer(conn, frame);
      }
    } finally {
      conn.running = false;
    }
  }

  private async answer(conn: Connection, frame: Frame): Promise<void> {
    const { binary } = frame;
    let payload: unknown;
    try {
      payload = decodeFrame(frame.data, binary);
    } catch (error) {
      const e = error as Error;
      const message = `Can't decode ${encodingName(binary)} request. ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
      return this.send(conn, binary, emptyRequest(), { error: message }, 400);
    }
    if (!isPlainObject(payload)) {
      return this.send(
        conn,
        binary,
        emptyRequest(),
        { error: 'Unexpected body type. Expected dict or dict like.' },
        400,
      );
    }
    const action = payload.action;
    const request = {
      action: action ?? null,
      body: payload.body ?? {},
      headers: payload.headers ?? {},
      api: 'v2',
    };
    const schema = typeof action === 'string' && Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (!schema) {
      const name = typeof action === 'string' ? action : action === undefined ? 'None' : JSON.stringify(action);
      return this.send(conn, binary, request, { error: `${name} is not a valid action` }, 400);
    }
    if (!matchesSchema(schema, payload)) {
      return this.send(conn, binary, request, { error: 'Schema validation failed.' }, 400);
    }
    const name = action as string;
    const body = (isPlainObject(payload.body) ? payload.body : {}) as Body;
    const headers = payload.headers as Record<string, string>;
    const started = this.options.logRequests || this.options.observeAction ? performance.now() : 0;
    let result: ActionResult;
    let own = false;
    try {
      const granted = await this.authorize(conn, name, headers, body);
      if ('status' in granted) {
        result = granted;
        this.send(conn, binary, request, result.body, result.status);
        this.options.observeAction?.(name, result.status, (performance.now() - started) / 1000);
        return;
      }
      const charged = granted.project ?? (name === 'authenticate' ? undefined : headers['X-Project-ID']);
      if (typeof charged === 'string' && charged !== '') await this.options.service.fairShare?.admitRequest(charged);
      result = await (HANDLERS[name] as NonNullable<(typeof HANDLERS)[string]>)(body, headers, {
        service: this.options.service,
        pools: this.options.pools ?? null,
        admin: this.admin,
        project: granted.project,
        adminGranted: granted.admin,
        socketSubscriber: () => `${this.options.notificationBase()}${conn.id}`,
        subscribedSocket: (project, queue, id) => {
          own = true;
          if (conn.cleanup === null) {
            conn.subscriptions.push({ project, queue, id });
            return;
          }
          // The socket closed while this request ran, and its cleanup is done: undo this one too.
          this.options.service.queues.unsubscribe(project, queue, id).catch(() => {});
        },
      });
    } catch (error) {
      result = this.failure(name, error);
    }
    if (own && result.status === 201) conn.notifyBinary = binary;
    this.send(conn, binary, request, result.body, result.status);
    this.options.observeAction?.(name, result.status, (performance.now() - started) / 1000);
    if (this.options.logRequests) {
      const project = headers['X-Project-ID'];
      this.log.info(
        {
          action: name,
          status: result.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          project: typeof project === 'string' ? project : null,
        },
        'websocket request',
      );
    }
  }

  /**
   * Zaqar's rules (transport/websocket/protocol.py): under an auth strategy, a socket's requests
   * before a successful `authenticate` are refused 403 "Not authentified."; a failed authenticate
   * is 401 "Authentication failed."; afterwards every request runs as the socket's identity, its
   * credential checked again (expiry, X-Project-ID, the action's policy) by the same access
   * control as HTTP's. A request of a socket that has not authenticated may instead carry a
   * pre-signed URL's headers (message actions only). Returns the answer to send at once, or what
   * the handler runs with.
   */
  private async authorize(
    conn: Connection,
    name: string,
    headers: Record<string, string>,
    body: Body,
  ): Promise<ActionResult | { project: string | null; admin: boolean }> {
    const access = this.access;
    const projectId = typeof headers['X-Project-ID'] === 'string' ? headers['X-Project-ID'] : undefined;
    const adminToken = typeof headers['X-Admin-Token'] === 'string' ? headers['X-Admin-Token'] : undefined;
    if (name === 'authenticate') {
      if (access.strategy === 'noauth') return { project: null, admin: false };
      const token = credentialOf(headers);
      try {
        await access.authenticator.authenticate({ token, projectId });
      } catch (error) {
        if (error instanceof UnauthenticatedError) {
          conn.token = null;
          return { status: 401, body: { error: 'Authentication failed.', exception: error.message } };
        }
        throw error;
      }
      conn.token = token ?? null;
      return { project: null, admin: false };
    }
    const action = WS_ACTIONS[name];
    if (action === undefined) throw new Error(`${name} has no policy action`);
    const auth = access.authenticator;
    if (auth instanceof NoauthAuthenticator) {
      // Today's rules: the handlers check X-Project-ID themselves (the default project when it is missing).
      return { project: projectId === undefined ? auth.defaultProject : null, admin: false };
    }
    const breakGlass = adminToken !== undefined && levelOf(action) === 'admin';
    if (conn.token === null && !breakGlass) {
      // Zaqar's protocol.py: an unauthenticated socket may still run a message action that a
      // pre-signed URL allows; a signature that does not verify is "Not authentified." too.
      if (!verifyWsSignature(this.options.service, name, headers, body)) {
        return { status: 403, body: { error: 'Not authentified.' } };
      }
      const granted = await access.authorize({
        action,
        credentials: { token: undefined, projectId },
        adminToken: undefined,
        signed: true,
      });
      return { project: granted.identity.project, admin: false };
    }
    try {
      const granted = await access.authorize({
        action,
        credentials: { token: conn.token ?? undefined, projectId },
        adminToken,
        signed: false,
      });
      return { project: granted.identity.project, admin: granted.admin };
    } catch (error) {
      if (error instanceof UnauthenticatedError) {
        // The credential stopped being valid (it expired): the socket must authenticate again.
        conn.token = null;
        return { status: 403, body: { error: 'Not authentified.', exception: error.message } };
      }
      throw error;
    }
  }

  private failure(action: string, error: unknown): ActionResult {
    if (error instanceof ActionError) {
      return { status: error.status, body: { exception: error.exception, error: error.description } };
    }
    const answer = answerFor(error, FAILED[action] ?? 'The request could not be served.');
    if (answer.log) logFailure(this.log, this.failures, error, 'websocket', action);
    return {
      status: answer.status,
      body: { exception: error instanceof Error ? error.message : String(error), error: answer.description },
    };
  }

  private send(conn: Connection, binary: boolean, request: unknown, body: unknown, status: number): void {
    const ws = conn.ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_UNSENT_BYTES) {
      this.log.warn(
        { socket: conn.id, unsent: ws.bufferedAmount },
        'a websocket client does not read its answers: closed',
      );
      ws.terminate();
      return;
    }
    let frame: string | Buffer;
    try {
      frame = encodeFrame({ request, body, headers: { status } }, binary);
    } catch (error) {
      frame = encodeFrame(
        {
          request: null,
          body: { exception: (error as Error).message, error: 'The answer could not be encoded.' },
          headers: { status: 500 },
        },
        binary,
      );
    }
    ws.send(frame, { binary });
  }
}

function emptyRequest() {
  return { action: null, body: {}, headers: {}, api: 'v2' };
}

export interface WebSocketListener {
  /** ws://host:port, or wss://host:port with TLS */
  url: string;
  port: number;
  server: Server | HttpsServer;
  close(): Promise<void>;
}

/**
 * Serves the API on a port of its own (Zaqar's `[drivers:transport:websocket]` listener):
 * upgrades become sockets; plain HTTP requests are the notification endpoint (handleHttp).
 */
export async function listenWebSocket(
  api: WebSocketApi,
  options: {
    host: string;
    port: number;
    exclusive?: boolean;
    /** WSS (and HTTPS for the notification endpoint) with this certificate and key. */
    tls?: { cert: Buffer | string; key: Buffer | string } | null;
    /** False: only the notification endpoint, no sockets (default true). */
    upgrades?: boolean;
  },
): Promise<WebSocketListener> {
  const handle = (request: IncomingMessage, response: ServerResponse) => api.handleHttp(request, response);
  const server = options.tls
    ? createHttpsServer({ keepAlive: true, cert: options.tls.cert, key: options.tls.key }, handle)
    : createServer({ keepAlive: true }, handle);
  if (options.upgrades === false) server.on('upgrade', (_request, socket) => socket.destroy());
  else server.on('upgrade', (request, socket, head) => api.handleUpgrade(request, socket, head));
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: a worker of a cluster gets a port of its own instead of sharing the primary's.
    server.listen({ port: options.port, host: options.host, exclusive: options.exclusive === true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'wss' : 'ws'}://${shown}:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The credential of an `authenticate` request: X-Auth-Token, else `Authorization: Bearer …`. */
function credentialOf(headers: Record<string, string>): string | undefined {
  const token = headers['X-Auth-Token'];
  if (typeof token === 'string' && token !== '') return token;
  const authorization = headers.Authorization;
  if (typeof authorization !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match === null ? undefined : match[1];
}
