import { Socket } from 'node:net';

/**
 * Closes a TCP socket with a reset, so that its kernel throws away whatever it still holds to
 * send. A socket closed the ordinary way keeps retransmitting its queued bytes, then its FIN, for
 * minutes: behind a network partition that heals, a statement whose caller was already told it
 * failed (a timeout) would reach the server after all and run. A reset stops that. Sockets that
 * are not TCP (Unix sockets, TLS wrappers) or not connected yet are just destroyed.
 */
export function resetSocket(socket: { destroy(): unknown; resetAndDestroy?: () => unknown }): void {
  if (socket instanceof Socket && !socket.destroyed && !socket.connecting && socket.remotePort !== undefined) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // not a TCP handle after all: fall through
    }
  }
  socket.destroy();
}

/**
 * A TCP socket whose plain `destroy()` — what a client library calls to drop a connection with a
 * request in flight — is a reset (see resetSocket). `destroy(error)`, Node's own path for a socket
 * that failed, stays as it is. node-postgres takes it through its `stream` option.
 */
export class ResettingSocket extends Socket {
  private resetting = false;

  override destroy(error?: Error): this {
    if (error !== undefined || this.resetting) return super.destroy(error);
    this.resetting = true;
    resetSocket(this);
    return this;
  }
}
