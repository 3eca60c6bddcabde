import { existsSync } from 'node:fs';
import { type SpoolLog, silentLog } from '../../multispool/index.js';
import { SpoolFolder } from '../../spool/index.js';
import type { ResourceKind } from '../namespaces.js';
import { decodeBatch, parseRecipient } from './batch.js';
import { readLedgerFile } from './delivery-ledger.js';
import type { DeliveryCounts } from './hooks.js';
import { listNotificationSlots, type NotificationSlot } from './slots.js';

export interface SubscriptionDeliveryStatus extends DeliveryCounts {
  id: string;
  kind: ResourceKind | null;
  project: string | null;
  source: string | null;
  subscriber: string | null;
}

/**
 * The delivery counts of every subscription, read from a notifications folder on disk (every
 * process's slot, added up) — safe beside the servers that own it: nothing is locked or changed.
 * Delivered and failed come from the counts files (written at most a second late); pending is
 * counted in the spools' metadata, waiting and frozen messages alike (a message being delivered
 * at that instant is not seen).
 */
export async function readNotificationStatus(
  dir: string,
  log: SpoolLog = silentLog,
): Promise<SubscriptionDeliveryStatus[]> {
  const out = new Map<string, SubscriptionDeliveryStatus>();
  for (const slot of listNotificationSlots(dir)) await readSlot(slot, out, log);
  return [...out.values()].sort(
    (a, b) =>
      (a.project ?? '').localeCompare(b.project ?? '') ||
      (a.source ?? '').localeCompare(b.source ?? '') ||
      a.id.localeCompare(b.id),
  );
}

async function readSlot(
  slot: NotificationSlot,
  out: Map<string, SubscriptionDeliveryStatus>,
  log: SpoolLog,
): Promise<void> {
  for (const [id, e] of readLedgerFile(slot.dir)) {
    const known = out.get(id);
    if (known && known.subscriber !== null) {
      known.delivered += e.delivered;
      known.failed += e.failed;
      continue;
    }
    out.set(id, {
      id,
      kind: e.kind,
      project: e.project,
      source: e.source,
      subscriber: e.subscriber,
      delivered: e.delivered + (known?.delivered ?? 0),
      pending: known?.pending ?? 0,
      failed: e.failed + (known?.failed ?? 0),
    });
  }
  const { spoolDir } = slot;
  if (existsSync(spoolDir)) {
    const folder = await SpoolFolder.open(spoolDir, { createIfMissing: false, log });
    for (const { queue, meta } of await folder.readAll(['active', 'frozen'])) {
      const unknown = new Set<string>();
      for (const r of meta.recipients) {
        if (r.state !== 'pending') continue;
        const pair = parseRecipient(r.address);
        if (!pair) continue;
        let entry = out.get(pair.subscriptionId);
        if (!entry) {
          entry = {
            id: pair.subscriptionId,
            kind: null,
            project: null,
            source: null,
            subscriber: null,
            delivered: 0,
            pending: 0,
            failed: 0,
          };
          out.set(pair.subscriptionId, entry);
        }
        if (entry.subscriber === null) unknown.add(pair.subscriptionId);
        entry.pending++;
      }
      if (unknown.size === 0) continue;
      // Subscriptions with nothing delivered or failed yet are described by the spooled data.
      try {
        const envelope = await folder.multispool.entry(queue, meta.id).dataFile.read();
        for (const s of decodeBatch(envelope.body).subscriptions) {
          const entry = out.get(s.id);
          if (!entry || entry.subscriber !== null) continue;
          entry.kind = s.kind;
          entry.project = s.project;
          entry.source = s.source;
          entry.subscriber = s.subscriber;
        }
      } catch {}
    }
  }
}
