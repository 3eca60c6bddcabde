import { type Logger as PinoLogger, pino } from 'pino';

/**
 * The server's logger: JSON lines to stdout, written asynchronously.
 *
 * pino's default destination writes every line with its own synchronous write(2), so a slow
 * reader of stdout (a full pipe, a stalled log shipper) stops the event loop and every request
 * with it. Written asynchronously, lines logged while a write is in flight go out together in
 * the next one, and no line waits on purpose (no minimum length), so a reader still sees each
 * line as it happens. pino flushes what is left when the process exits; a SIGKILL loses at most
 * the lines not yet written — log lines, never acknowledged data.
 */
export function serverLogger(level: string): PinoLogger {
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}
