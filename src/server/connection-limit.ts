import { readdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Logger as PinoLogger } from 'pino';

/**
 * A bound on the client connections of every listener of the process together (the HTTP port and
 * the WebSocket port), kept below the file-descriptor limit. Without it a server at its limit
 * cannot accept: clients get an empty reply (the kernel's or libuv's close) and nothing is logged,
 * and the store, the pools and the spool can no longer open files either. Over the bound a client
 * is answered with `refusal` (a 503 the HTTP layer writes) and its socket closed; the first
 * refusal of an episode is logged as a warning, and the episode's end (room again) as an info
 * line, never one line per client.
 */
export class ConnectionLimit {
  private open = 0;
  /** Refused sockets still writing their answer (they hold descriptors too). */
  private refusing = 0;
  private saturated = false;
  private refusedInEpisode = 0;

  constructor(
    readonly max: number,
    private readonly refusal: string,
    private readonly log: PinoLogger,
    /** Refused sockets answered at once; beyond this they are closed without an answer. */
    private readonly maxRefusing = Math.max(8, Math.ceil(max / 8)),
  ) {}

  /**
   * Puts the bound in front of `server`'s connection handling: its own 'connection' listeners
   * (Node's HTTP parser) run only for sockets admitted.
   */
  guard(server: Server): void {
    const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (this.admit(socket)) for (const handle of handlers) handle.call(server, socket);
    });
  }

  /** Connections admitted and still open. */
  get connections(): number {
    return this.open;
  }

  private admit(socket: Socket): boolean {
    if (this.open < this.max) {
      this.open++;
      socket.once('close', () => this.released());
      return true;
    }
    this.refuse(socket);
    return false;
  }

  private refuse(socket: Socket): void {
    this.refusedInEpisode++;
    if (!this.saturated) {
      this.saturated = true;
      this.log.warn(
        { maxConnections: this.max },
        'connection limit reached: new clients are refused with 503 until connections close (max_connections)',
      );
    }
    if (this.refusing >= this.maxRefusing) {
      socket.destroy();
      return;
    }
    this.refusing++;
    socket.once('close', () => {
      this.refusing--;
    });
    socket.on('error', () => socket.destroy());
    // Read and drop what the client sends: closing with unread data would reset the connection,
    // and a reset can discard the answer before the client reads it.
    socket.resume();
    socket.setTimeout(5_000, () => socket.destroy());
    socket.end(this.refusal);
  }

  private released(): void {
    this.open--;
    // Room again only with a tenth of the bound free, so that a server at its limit does not
    // log one line per connection as clients come and go.
    if (this.saturated && this.open <= this.max - Math.max(1, Math.floor(this.max / 10))) {
      this.saturated = false;
      this.log.info(
        { maxConnections: this.max, open: this.open, refused: this.refusedInEpisode },
        'connection limit cleared: accepting new clients again',
      );
      this.refusedInEpisode = 0;
    }
  }
}

/** Connections allowed when the descriptor limit cannot be read (not Linux). */
const FALLBACK_MAX_CONNECTIONS = 1000;

/**
 * The default bound: three quarters of the file descriptors this process has left under its
 * soft limit (RLIMIT_NOFILE, from /proc/self/limits) at start. The rest stays for what the
 * server opens later — store segments and snapshots, pool connections, the notification spool —
 * and for the sockets being refused, which hold a descriptor until their answer is written.
 */
export function defaultMaxConnections(): number {
  const soft = openFilesSoftLimit();
  if (soft === null) return FALLBACK_MAX_CONNECTIONS;
  let inUse = 0;
  try {
    inUse = readdirSync('/proc/self/fd').length;
  } catch {
    inUse = 0;
  }
  return Math.max(1, Math.floor(((soft - inUse) * 3) / 4));
}

/** The soft limit on open files, or null when unknown or unlimited. */
export function openFilesSoftLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  return soft === undefined || !/^\d+$/.test(soft) ? null : Number(soft);
}
