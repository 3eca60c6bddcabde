import { WebSocket } from 'undici';
import { RequestFailedError } from '../core/errors.js';
import type { RequestAuth } from './auth.js';
import { errorFromAnswer } from './error-mapping.js';
import type { PushedMessage } from './types.js';

/**
 * A subscription over Zaqar's WebSocket API: the socket subscribes itself to a queue
 * (`subscription_create` without a subscriber) and the server pushes every message posted to
 * that queue on it. It is an async iterator of those messages; leaving the loop (or `close()`)
 * closes the socket, which ends the subscription on the server. undici's WebSocket, so the client
 * needs no `ws` package.
 */

export interface WsSubscribeOptions {
  /** Seconds the subscription lives on the server (the server's default when omitted). */
  ttl?: number;
}

export interface WsSubscriptionParams {
  wsUrl: string;
  queue: string;
  clientId: string;
  auth: RequestAuth;
  options?: WsSubscribeOptions;
}

interface Answer {
  request?: { action?: string };
  body?: Record<string, unknown>;
  headers?: { status?: number };
}

/** The request headers of the WebSocket API, in the spelling its actions read. */
const WS_HEADER_NAMES: Record<string, string> = {
  'x-project-id': 'X-Project-ID',
  'x-auth-token': 'X-Auth-Token',
  'url-signature': 'URL-Signature',
  'url-expires': 'URL-Expires',
  'url-methods': 'URL-Methods',
  'url-paths': 'URL-Paths',
};

export class WsSubscription implements AsyncIterableIterator<PushedMessage> {
  /** The subscription's id on the server. */
  id = '';
  private readonly buffered: PushedMessage[] = [];
  private waiting: { resolve: (r: IteratorResult<PushedMessage>) => void; reject: (e: unknown) => void } | null = null;
  private answerWaiter: ((answer: Answer) => void) | null = null;
  private ended: { error: Error | null } | null = null;
  private closing = false;

  private constructor(
    private readonly socket: WebSocket,
    private readonly params: WsSubscriptionParams,
  ) {
    socket.addEventListener('message', (event) => this.onFrame(event.data));
    socket.addEventListener('close', (event) => {
      const error = this.closing
        ? null
        : new RequestFailedError(
            params.wsUrl,
            null,
            `the WebSocket subscription to ${JSON.stringify(params.queue)} was closed by the server (${event.code}${event.reason ? ` ${event.reason}` : ''})`,
          );
      this.finish(error);
    });
  }

  /** Opens the socket, authenticates when there is a credential, and subscribes. */
  static async open(params: WsSubscriptionParams): Promise<WsSubscription> {
    const socket = new WebSocket(params.wsUrl);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener(
        'error',
        (event) =>
          reject(
            new RequestFailedError(params.wsUrl, null, `the WebSocket at ${params.wsUrl} cannot be reached`, {
              cause: (event as { error?: unknown }).error,
            }),
          ),
        { once: true },
      );
    });
    const subscription = new WsSubscription(socket, params);
    try {
      await subscription.subscribe();
    } catch (error) {
      subscription.close();
      throw error;
    }
    return subscription;
  }

  private async headers(): Promise<Record<string, string>> {
    const out: Record<string, string> = { 'Client-ID': this.params.clientId };
    for (const [key, value] of Object.entries(await this.params.auth.headers())) {
      const name = WS_HEADER_NAMES[key];
      if (name !== undefined) out[name] = value;
    }
    const project = await this.params.auth.project();
    if (out['X-Project-ID'] === undefined && project !== undefined) out['X-Project-ID'] = project;
    return out;
  }

  private async subscribe(): Promise<void> {
    const headers = await this.headers();
    if (headers['X-Auth-Token'] !== undefined) {
      await this.call('authenticate', headers);
    }
    const body: Record<string, unknown> = { queue_name: this.params.queue };
    if (this.params.options?.ttl !== undefined) body.ttl = this.params.options.ttl;
    const answer = await this.call('subscription_create', headers, body);
    this.id = String(answer.body?.subscription_id ?? '');
  }

  /** Sends one request and waits for its answer (the socket answers in order); throws its error. */
  private async call(action: string, headers: Record<string, string>, body?: Record<string, unknown>): Promise<Answer> {
    const answered = new Promise<Answer>((resolve) => {
      this.answerWaiter = resolve;
    });
    // An action without a body (authenticate) must send none: the server's schema refuses one.
    this.socket.send(JSON.stringify(body === undefined ? { action, headers } : { action, headers, body }));
    const answer = await Promise.race([
      answered,
      new Promise<never>((_, reject) => {
        const check = () => reject(this.ended?.error ?? new RequestFailedError(this.params.wsUrl, null, 'closed'));
        this.socket.addEventListener('close', check, { once: true });
      }),
    ]);
    const status = answer.headers?.status ?? 0;
    if (status >= 400) {
      const error = answer.body?.error;
      const exception = answer.body?.exception;
      const description = `${typeof error === 'string' ? error : `${action} failed`}${typeof exception === 'string' ? ` ${exception}` : ''}`;
      throw errorFromAnswer(
        { status, title: action, description, method: action, url: this.params.wsUrl },
        { project: headers['X-Project-ID'] ?? '', queue: this.params.queue },
      );
    }
    return answer;
  }

  private onFrame(data: unknown): void {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'));
    } catch {
      return;
    }
    if ('request' in doc && 'headers' in doc) {
      const wake = this.answerWaiter;
      this.answerWaiter = null;
      wake?.(doc as Answer);
      return;
    }
    const message: PushedMessage = {
      body: doc.body,
      ttl: Number(doc.ttl ?? 0),
      queueName: String(doc.queue_name ?? this.params.queue),
    };
    const waiting = this.waiting;
    if (waiting !== null) {
      this.waiting = null;
      waiting.resolve({ value: message, done: false });
    } else {
      this.buffered.push(message);
    }
  }

  private finish(error: Error | null): void {
    if (this.ended !== null) return;
    this.ended = { error };
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting === null) return;
    if (error === null) waiting.resolve({ value: undefined, done: true });
    else waiting.reject(error);
  }

  next(): Promise<IteratorResult<PushedMessage>> {
    const message = this.buffered.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.ended !== null) {
      return this.ended.error === null
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.ended.error);
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<PushedMessage>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Closes the socket: the iteration ends after what was already received. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000);
    }
    this.finish(null);
  }
}
