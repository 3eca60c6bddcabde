import { createHash } from 'node:crypto';
import { isPlainObject, type Limits } from '../core/index.js';
import type { DriverResolver } from './driver-resolver.js';
import { quotaProject } from './namespaces.js';
import { isQuotaValue, QUOTA_KEYS, type QuotaKey, type QuotaOverride } from './quotas.js';

/**
 * Where the quotas set through the admin API are kept: in the store itself, so they survive a
 * restart and every server sharing the store (or the pools of a catalog) sees the same ones. Each
 * project with quotas of its own is one queue of a reserved project no client can name
 * (namespaces.ts), its metadata `{"project": ..., "max_queues": ...}`. The queue is named after a
 * hash of the project id, because project ids may hold characters and lengths queue names cannot;
 * the metadata names the project, so a read never trusts the hash alone.
 *
 * One queue a project, rather than one document for all: a document would grow past the metadata
 * size limit with many projects, and two servers changing two projects at once would race.
 */
export class QuotaStore {
  constructor(
    private readonly resolver: DriverResolver,
    private readonly limits: Limits,
  ) {}

  /** Every project's quotas as the admin API set them. */
  async readAll(): Promise<Map<string, QuotaOverride>> {
    const project = quotaProject();
    const found = new Map<string, QuotaOverride>();
    let marker: string | undefined;
    for (;;) {
      const page = await this.resolver.listQueues(project, {
        limit: this.limits.maxQueuesPerPage,
        detailed: true,
        ...(marker !== undefined ? { marker } : {}),
      });
      for (const queue of page.queues) {
        const read = readStored(queue.metadata);
        if (read !== null && queue.name === this.queueName(read.project)) found.set(read.project, read.quotas);
      }
      if (page.queues.length === 0 || page.marker === null || page.marker === marker) break;
      marker = page.marker;
    }
    return found;
  }

  async put(project: string, quotas: QuotaOverride): Promise<void> {
    const sp = quotaProject();
    const name = this.queueName(project);
    const metadata = { ...quotas, project };
    const driver = await this.resolver.forQueue(sp, name);
    if (!(await driver.queues.create(sp, name, metadata))) await driver.queues.setMetadata(sp, name, metadata);
  }

  async remove(project: string): Promise<void> {
    const sp = quotaProject();
    const name = this.queueName(project);
    const driver = await this.resolver.forQueue(sp, name);
    await driver.queues.delete(sp, name);
    await this.resolver.queueDeleted?.(sp, name);
  }

  private queueName(project: string): string {
    return createHash('sha256').update(project).digest('hex').slice(0, Math.min(64, this.limits.maxQueueNameLength));
  }
}

/** A stored entry, or null for one that is not (written by something else, or damaged). */
function readStored(metadata: unknown): { project: string; quotas: QuotaOverride } | null {
  if (!isPlainObject(metadata) || typeof metadata.project !== 'string') return null;
  const quotas: Partial<Record<QuotaKey, number | null>> = {};
  for (const key of QUOTA_KEYS) {
    const value = metadata[key];
    if (value === null || isQuotaValue(value)) quotas[key] = value;
  }
  return { project: metadata.project, quotas };
}
