import type { QueueStats } from '../../core/index.js';
import type { QueueService } from '../../service/index.js';
import { OTHER } from './label-budget.js';

/** One queue's gauges as a scrape reports them. */
export interface QueueDepth {
  project: string;
  queue: string;
  free: number;
  claimed: number;
  delayed: number;
  /** Seconds since its oldest live message was posted; 0 when empty. */
  oldestAgeSeconds: number;
}

export interface DepthReport {
  /** The deepest queues one by one, then (when there were more) their sum as project and queue `_other`. */
  depths: QueueDepth[];
  /** Queues whose stats could not be read (their pool is down); they are left out. */
  unreadable: number;
  /** True when a project had more queues than a scrape reads; the ones past it are left out. */
  truncated: boolean;
}

/** Most queues one scrape reads the stats of, across projects: a scrape stays bounded in time. */
export const MAX_QUEUES_READ = 20_000;
/** Stats read at once. */
const CONCURRENCY = 16;

/**
 * Reads every known project's queues and their stats, at scrape time only (never per request),
 * through the same service calls the API uses. Zaqar's stores cannot list projects, so the
 * projects are those this server has seen requests for since it started.
 */
export async function readQueueDepths(
  service: QueueService,
  projects: Iterable<string>,
  maxReported: number,
): Promise<DepthReport> {
  const names: [string, string][] = [];
  const pageSize = service.limits.maxQueuesPerPage;
  let truncated = false;
  for (const project of projects) {
    let marker: string | undefined;
    for (;;) {
      if (names.length >= MAX_QUEUES_READ) {
        truncated = true;
        break;
      }
      let page: Awaited<ReturnType<QueueService['queues']['list']>>;
      try {
        page = await service.queues.list(project, { limit: pageSize, ...(marker !== undefined ? { marker } : {}) });
      } catch {
        break; // the catalogue or store is down: the project's queues are left out, pool_up says why
      }
      for (const q of page.queues) names.push([project, q.name]);
      if (page.queues.length < pageSize || page.marker === null) break;
      marker = page.marker;
    }
  }
  const read: QueueDepth[] = [];
  let unreadable = 0;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const [project, queue] = names[next++] as [string, string];
      let stats: QueueStats;
      try {
        stats = await service.queues.stats(project, queue);
      } catch {
        unreadable++;
        continue;
      }
      read.push({
        project,
        queue,
        // Zaqar counts delayed messages as free; the gauge's states are disjoint, so they are not.
        free: Math.max(0, stats.free - stats.delayed),
        claimed: stats.claimed,
        delayed: stats.delayed,
        oldestAgeSeconds: stats.oldest?.age ?? 0,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
  return { depths: capDepths(read, maxReported), unreadable, truncated };
}

/** The `max` deepest queues (ties by name, so the set is stable), the others summed into one `_other` series. */
export function capDepths(depths: QueueDepth[], max: number): QueueDepth[] {
  if (depths.length <= max) return depths;
  const sorted = [...depths].sort(
    (a, b) =>
      b.free + b.claimed + b.delayed - (a.free + a.claimed + a.delayed) ||
      (a.project < b.project ? -1 : a.project > b.project ? 1 : a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0),
  );
  const kept = sorted.slice(0, max);
  const other: QueueDepth = { project: OTHER, queue: OTHER, free: 0, claimed: 0, delayed: 0, oldestAgeSeconds: 0 };
  for (const d of sorted.slice(max)) {
    other.free += d.free;
    other.claimed += d.claimed;
    other.delayed += d.delayed;
    other.oldestAgeSeconds = Math.max(other.oldestAgeSeconds, d.oldestAgeSeconds);
  }
  kept.push(other);
  return kept;
}
