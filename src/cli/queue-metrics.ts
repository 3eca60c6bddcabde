import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { ServerClient } from './server-client.js';

/** The label value of the queues past the server's label budget, summed (server/metrics/label-budget.ts). */
const OTHER = '_other';

/** One queue's counters and delayed gauge, as one scrape of GET /metrics reported them. */
export interface QueueCounters {
  posted: number;
  deleted: number;
  delayed: number | null;
}

/** A scrape: the project's queues by name, or why there is none (shown once, under the table). */
export type QueueMetrics = { queues: Map<string, QueueCounters> } | { unavailable: string };

/**
 * Reads the service's counters off GET /metrics (server/metrics) for the client's project — on the
 * server's URL, or `metricsUrl` when the server serves them on a port of their own. The
 * stats API has no posted or deleted counts, so rates of either need these. A server that does
 * not serve them — metrics off (404), the caller is no admin (401, 403), an older server — is an
 * answer, not an error: `top` then falls back to the change in depth.
 */
export async function readQueueMetrics(client: ServerClient, metricsUrl?: string): Promise<QueueMetrics> {
  let answer: { status: number; text: string };
  const target = metricsUrl ?? '/metrics';
  try {
    answer = await client.getText(target);
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
  if (answer.status !== 200) return { unavailable: `GET ${target} answered ${answer.status}` };
  let families: ReturnType<typeof parsePrometheusTextFormat>;
  try {
    families = parsePrometheusTextFormat(answer.text);
  } catch (error) {
    return { unavailable: `GET /metrics is not Prometheus text: ${(error as Error).message}` };
  }
  const queues = new Map<string, QueueCounters>();
  const of = (labels: Record<string, string> | undefined): QueueCounters | undefined => {
    // Queues past the server's label budget are summed into queue="_other": no counts of their own.
    if (
      labels?.queue === undefined ||
      labels.queue === OTHER ||
      (client.project !== undefined && labels.project !== client.project)
    ) {
      return undefined;
    }
    let counters = queues.get(labels.queue);
    if (counters === undefined) {
      counters = { posted: Number.NaN, deleted: Number.NaN, delayed: null };
      queues.set(labels.queue, counters);
    }
    return counters;
  };
  for (const family of families) {
    for (const sample of family.metrics) {
      const value = Number(sample.value);
      if (family.name === 'posthorn_messages_posted_total') {
        const c = of(sample.labels);
        if (c) c.posted = value;
      } else if (family.name === 'posthorn_messages_deleted_total') {
        const c = of(sample.labels);
        if (c) c.deleted = value;
      } else if (family.name === 'posthorn_messages' && sample.labels?.state === 'delayed') {
        const c = of(sample.labels);
        if (c) c.delayed = value;
      }
    }
  }
  if (!families.some((f) => f.name === 'posthorn_messages_posted_total')) {
    return { unavailable: 'GET /metrics has no posthorn_messages_posted_total' };
  }
  return { queues };
}
