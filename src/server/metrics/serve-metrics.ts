import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import type { Pooling } from '../../pool/index.js';
import type { AccessControl, QueueService } from '../../service/index.js';
import type { Notifier } from '../../service/notify/index.js';
import { clusterScrape } from './cluster-scrape.js';
import { listenMetrics, MetricsGate, serveMetricsRoute } from './metrics-endpoint.js';
import type { PosthornMetrics } from './posthorn-metrics.js';

export interface ServedMetrics {
  /** The separate listener's base URL (`metrics_port`), or null when /metrics is on the HTTP port. */
  readonly url: string | null;
  close(): Promise<void>;
}

/**
 * Wires the metrics into a server's open parts: GET /metrics on the app (before it listens), or on
 * a port of its own (the app was built with the metrics as its request observer); what scrapes
 * read; the notification outcomes.
 */
export async function serveMetrics(
  metrics: PosthornMetrics,
  parts: {
    app: FastifyInstance;
    service: QueueService;
    access: AccessControl;
    pooling: Pooling | null;
    notifier: Notifier;
    /** True when an admin token or an auth strategy other than noauth is configured. */
    gated: boolean;
    host: string;
    /** Its own port, or null for the HTTP port. */
    port: number | null;
  },
): Promise<ServedMetrics> {
  const gate = new MetricsGate(parts.access, parts.gated);
  // A worker of `--workers` answers a scrape with every worker's metrics, summed by the primary.
  if (cluster.isWorker) metrics.gatherWith(clusterScrape(() => metrics.part()));
  if (parts.port === null) serveMetricsRoute(parts.app, metrics, gate);
  metrics.attach({
    service: parts.service,
    mover: parts.pooling?.mover ?? null,
    notifications: parts.notifier.deliverySpool,
  });
  const unfollow = metrics.followNotifications(parts.notifier.deliverySpool);
  const listener = parts.port === null ? null : await listenMetrics(metrics, gate, parts.host, parts.port);
  return {
    url: listener?.url ?? null,
    async close() {
      unfollow();
      await listener?.close();
    },
  };
}
