import { flag, port, type SettingSources, whole } from './config-values.js';

/**
 * The top-level settings of GET /metrics (server/metrics):
 *
 *   metrics = true               # POSTHORN_METRICS: serve GET /metrics (and count for it)
 *   metrics_port = 9464          # POSTHORN_METRICS_PORT: serve it on this port alone instead of the HTTP port
 *   metrics_max_queues = 500     # POSTHORN_METRICS_MAX_QUEUES: queues reported one by one; the rest are summed
 */
export const METRICS_TOP_KEYS = ['metrics', 'metrics_port', 'metrics_max_queues'];

/** Queues whose gauges a scrape reports one by one unless told otherwise (the rest are summed). */
export const DEFAULT_METRICS_MAX_QUEUES = 500;

export interface MetricsConfig {
  enabled: boolean;
  /** A port of its own (0: a free one), or null to serve /metrics on the HTTP port. */
  port: number | null;
  /** Queues reported one by one, the deepest first; the others are summed into queue="_other". */
  maxQueues: number;
}

export function readMetricsConfig(doc: Record<string, unknown>, sources: SettingSources): MetricsConfig {
  const enabled = flag(sources.pick('metrics', doc.metrics, { env: 'POSTHORN_METRICS', fallback: true }));
  const portSetting = sources.pick('metrics_port', doc.metrics_port, { env: 'POSTHORN_METRICS_PORT' });
  const maxQueues = whole(
    sources.pick('metrics_max_queues', doc.metrics_max_queues, {
      env: 'POSTHORN_METRICS_MAX_QUEUES',
      fallback: DEFAULT_METRICS_MAX_QUEUES,
    }),
    1,
    100_000,
  );
  return { enabled, port: portSetting.value === undefined ? null : port(portSetting), maxQueues };
}
