import pg from 'pg';

interface Waiting {
  query: pg.QueryConfig;
  resolve(result: pg.QueryResult): void;
  reject(error: unknown): void;
}

interface Slot {
  client: pg.Client | null;
  ready: Promise<pg.Client> | null;
  /** Statements made while the connection was being opened, in the order they were made. */
  waiting: Waiting[];
}

/**
 * A few connections of their own, in node-postgres's pipeline mode, for statements that must
 * run in the order they were made and need not wait for each other's answers. Each statement is
 * written as soon as it is made and is its own transaction; the server runs those of one
 * connection one after another, so the next starts the moment the one before it has committed,
 * without a round trip to this process in between.
 *
 * Posts use them: posts to one queue commit in position order anyway (each holds the queue's
 * row until it commits), and over one connection they also reach the server in the order they
 * were made. A key (the queue) always maps to the same connection while it lives.
 */
export class Pipelines {
  private readonly slots: Slot[];
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    size: number,
  ) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => ({ client: null, ready: null, waiting: [] }));
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    key: string,
    query: pg.QueryConfig,
  ): Promise<pg.QueryResult<R>> {
    const slot = this.slotOf(key);
    // Written at once when connected, else queued until the connection is open: either way
    // statements leave in the order they were made.
    if (slot.client) return slot.client.query<R>(query);
    const result = new Promise<pg.QueryResult>((resolve, reject) => slot.waiting.push({ query, resolve, reject }));
    void this.connect(slot).catch(() => {});
    return result as Promise<pg.QueryResult<R>>;
  }

  /** Drops the connection of `key` after a failure that may have broken it; the next statement opens a new one. */
  discard(key: string): void {
    const slot = this.slotOf(key);
    const client = slot.client;
    slot.client = null;
    slot.ready = null;
    client?.end().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const ready = slot.ready;
        slot.ready = null;
        slot.client = null;
        const client = await ready?.catch(() => null);
        await client?.end().catch(() => {});
      }),
    );
  }

  private slotOf(key: string): Slot {
    let hash = 2166136261;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619);
    return this.slots[(hash >>> 0) % this.slots.length] as Slot;
  }

  private connect(slot: Slot): Promise<pg.Client> {
    if (slot.ready) return slot.ready;
    if (this.closed) {
      const error = new Error('the pipelined connections are closed');
      for (const w of slot.waiting.splice(0)) w.reject(error);
      return Promise.reject(error);
    }
    const client = new pg.Client({ ...this.config, pipeline: true } as pg.ClientConfig);
    const drop = () => {
      if (slot.client === client || slot.ready === ready) {
        slot.client = null;
        slot.ready = null;
      }
    };
    // A connection that fails (or that the server ends) is dropped; its statements in flight
    // fail with it. Without a listener an idle connection's error would end the process.
    client.on('error', drop);
    client.on('end', drop);
    const ready: Promise<pg.Client> = client.connect().then(
      () => {
        slot.client = client;
        for (const w of slot.waiting.splice(0)) client.query(w.query).then(w.resolve, w.reject);
        return client;
      },
      (error: unknown) => {
        drop();
        client.end().catch(() => {});
        for (const w of slot.waiting.splice(0)) w.reject(error);
        throw error;
      },
    );
    slot.ready = ready;
    return ready;
  }
}
