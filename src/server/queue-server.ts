import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type Logger as PinoLogger, pino } from 'pino';
import { buildHttpApp } from '../api/http/index.js';
import { openPooling, type Pooling, redactPoolUri } from '../pool/index.js';
import { type DriverResolver, QueueService, singleDriverResolver, storeLimits } from '../service/index.js';
import type { ServerConfig } from './config.js';
import { openStore } from './open-store.js';

export interface QueueServer {
  /** The HTTP API's base URL, e.g. http://127.0.0.1:8888. */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly service: QueueService;
  readonly logger: PinoLogger;
  /**
   * Stops accepting connections, lets requests in flight finish, then closes the store (its
   * pending writes are fsynced and its folder lock released). Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Opens the store and serves the Zaqar API on it. Logs JSON lines (pino) to stdout. */
export async function startQueueServer(config: ServerConfig, logger?: PinoLogger): Promise<QueueServer> {
  const log = logger ?? pino({ level: config.logLevel });
  // Pooling (a catalog of pools) or, as out of the box, the one embedded store.
  let pooling: Pooling | null = null;
  let resolver: DriverResolver;
  if (config.pooling) {
    pooling = await openPooling({
      settings: config.pooling,
      embedded: { store: config.store, data: config.data },
      limits: storeLimits(config.limits),
      logger: log,
    });
    resolver = pooling.catalog;
  } else {
    resolver = singleDriverResolver(await openStore(config, log));
  }
  const service = new QueueService({
    resolver,
    limits: config.limits,
    clientIds: config.clientIds,
    checksums: config.enableChecksum,
    signedUrlSecret: config.signedUrlSecret,
    subscriberTypes: config.subscriberTypes,
  });
  const app = buildHttpApp({ service, logger: log, pooling, adminToken: config.adminToken });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await service.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info(
    {
      url,
      store: config.store,
      data: config.store === 'disk' ? config.data : null,
      config: config.file,
      ...(config.pooling
        ? { catalog: config.pooling.catalog === null ? 'embedded' : redactPoolUri(config.pooling.catalog) }
        : {}),
    },
    'posthorn serving',
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    app,
    service,
    logger: log,
    close() {
      closing ??= (async () => {
        log.info({}, 'posthorn stopping: finishing requests in flight');
        try {
          await app.close();
        } finally {
          await pooling?.mover.close(); // moves stop at a safe point and resume when started again
          await service.close();
          log.info({}, 'posthorn stopped');
        }
      })();
      return closing;
    },
  };
}
