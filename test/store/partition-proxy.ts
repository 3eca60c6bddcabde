import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, that can simulate a network partition:
 * while partitioned it keeps every socket open (new ones are accepted too) but forwards nothing,
 * in either direction — bytes vanish as they would on a cut link, and no reset or close tells
 * either side. Healing forwards again; a connection that lost bytes to the partition is cut then
 * (its stream is torn, as the peers' TCP stacks would find out), so clients reconnect.
 */
export class PartitionProxy {
  private partitioned = false;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; torn: boolean }>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<PartitionProxy> {
    let proxy: PartitionProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy = new PartitionProxy(server, address.port);
    return proxy;
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.pairs.size;
  }

  partition(): void {
    this.partitioned = true;
  }

  heal(): void {
    this.partitioned = false;
    for (const pair of this.pairs) {
      if (pair.torn) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    const upstream = new Socket();
    const pair = { client, upstream, torn: false };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    const forward = (to: Socket) => (chunk: Buffer) => {
      if (this.partitioned) {
        pair.torn = true;
        return;
      }
      to.write(chunk);
    };
    // Bytes the client sends before the upstream is connected are kept in order by the socket.
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    upstream.connect(port, host);
  }
}
