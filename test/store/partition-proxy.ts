import { createServer, type Server, Socket } from 'node:net';

/**
 * How a partition treats the bytes sent into it:
 * - 'drop': they vanish, as on a cut link whose peers give up; a connection that lost bytes is
 *   cut when the partition heals (its stream is torn, as the peers' TCP stacks would find out).
 * - 'hold': they are delivered when it heals, as TCP retransmits them once the link is back —
 *   also after the sender closed its socket gracefully (a closed socket's kernel keeps sending
 *   what it had queued, then its FIN), but not after it reset it (a reset discards the queue).
 */
export type PartitionMode = 'drop' | 'hold';

interface Pair {
  client: Socket;
  upstream: Socket;
  torn: boolean;
  /** Bytes held by a 'hold' partition, per direction, in order. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** The client closed gracefully during a 'hold' partition: its FIN follows the held bytes. */
  clientEnded: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, that can simulate a network partition:
 * while partitioned it keeps every socket open (new ones are accepted too) but forwards nothing,
 * in either direction, and no reset or close tells either side.
 */
export class PartitionProxy {
  private mode: PartitionMode | null = null;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<PartitionProxy> {
    let proxy: PartitionProxy | undefined;
    const server = createServer({ allowHalfOpen: true }, (client) => proxy?.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy = new PartitionProxy(server, address.port);
    return proxy;
  }

  partition(mode: PartitionMode = 'drop'): void {
    this.mode = mode;
  }

  /**
   * Ends the partition. First lets two turns of the event loop pass, so that a reset or a close
   * the clients sent during the partition (over loopback, already in this process's sockets) is
   * seen before held bytes are delivered: a kernel delivers nothing of a socket it has reset.
   */
  async heal(): Promise<void> {
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    this.mode = null;
    for (const pair of this.pairs) {
      if (pair.torn) {
        pair.client.destroy();
        pair.upstream.destroy();
        continue;
      }
      for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
      for (const chunk of pair.toClient.splice(0)) if (!pair.client.destroyed) pair.client.write(chunk);
      if (pair.clientEnded) pair.upstream.end();
    }
  }

  /**
   * Resolves once every connection its client closed during a 'hold' partition has been closed by
   * the server too — which it does only after running all it received, held bytes included.
   */
  async settled(): Promise<void> {
    while ([...this.pairs].some((pair) => pair.clientEnded)) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    const upstream = new Socket({ allowHalfOpen: true });
    const pair: Pair = { client, upstream, torn: false, toUpstream: [], toClient: [], clientEnded: false };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A reset from the client discards whatever a 'hold' partition holds for it.
    client.on('error', end);
    upstream.on('error', end).on('close', end);
    client.on('end', () => {
      if (this.mode === 'hold') pair.clientEnded = true;
      else upstream.end();
    });
    client.on('close', (hadError) => {
      if (hadError || !pair.clientEnded) end();
    });
    upstream.on('end', () => client.end());
    client.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'toUpstream'));
    upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk, 'toClient'));
    upstream.connect(port, host);
  }

  private forward(pair: Pair, chunk: Buffer, direction: 'toUpstream' | 'toClient'): void {
    if (this.mode === 'drop') {
      pair.torn = true;
      return;
    }
    if (this.mode === 'hold') {
      pair[direction].push(chunk);
      return;
    }
    const to = direction === 'toUpstream' ? pair.upstream : pair.client;
    if (!to.destroyed) to.write(chunk);
  }
}
