import { join } from 'node:path';
import { type Clock, type KeyedSerializer, ResourceNotFoundError } from '../core/index.js';
import { type QueueWatch, type SpoolLog, watchQueue } from '../multispool/index.js';
import { MESSAGE_ID_PATTERN, type MessageMeta, SPOOL_QUEUES, type SpoolQueue } from './message-metadata.js';
import type { SpoolFolder } from './spool-folder.js';
import type { SpoolScheduler } from './spool-scheduler.js';
import type { SpoolEvent } from './types.js';

export interface FolderSyncOptions {
  folder: SpoolFolder;
  scheduler: SpoolScheduler;
  /** The Spool's per-message turns: a re-read waits for a job or an operator's change to end. */
  locks: KeyedSerializer;
  clock: Clock;
  log: SpoolLog;
  emit: (event: SpoolEvent) => void;
}

/**
 * Keeps what a running Spool knows in step with its folder, which other processes (the
 * `posthorn spool` command) change too: everything is read at start; change notices on the queue
 * folders, and a periodic re-scan for notices lost, re-read a message that moved, and say as an
 * event what another process did to it.
 */
export class FolderSync {
  private watches: QueueWatch[] = [];
  private readonly pendingRefresh = new Set<string>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: FolderSyncOptions) {}

  private get dir(): string {
    return this.o.folder.dir;
  }

  /** Reads every message on disk into the scheduler, which starts those due. */
  async load(): Promise<void> {
    const located = await this.o.folder.readAll();
    for (const { queue, meta } of located) this.o.scheduler.track(meta, queue);
    const waiting = located.filter((l) => l.queue === 'active').length;
    if (located.length > 0) {
      this.o.log('info', 'spool loaded', { spool: this.dir, messages: located.length, waiting });
    }
    this.o.scheduler.pump();
  }

  /** Watches the queue folders, and re-scans them every `rescanIntervalMs` (wall-clock). */
  start(rescanIntervalMs: number): void {
    for (const queue of SPOOL_QUEUES) {
      this.watches.push(
        watchQueue(join(this.dir, queue), (name) => (name === null ? void this.rescan() : this.scheduleRefresh(name))),
      );
    }
    this.rescanTimer = setInterval(() => void this.rescan(), rescanIntervalMs);
    this.rescanTimer.unref();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches = [];
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
  }

  /** Re-reads the message soon; notices come in bursts, so they are gathered for a moment first. */
  scheduleRefresh(name: string): void {
    if (this.closed || !MESSAGE_ID_PATTERN.test(name)) return;
    this.pendingRefresh.add(name);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const ids = [...this.pendingRefresh];
      this.pendingRefresh.clear();
      void (async () => {
        for (const id of ids) {
          await this.refresh(id).catch((error) =>
            this.o.log('warn', 'could not re-read a spooled message', {
              spool: this.dir,
              id,
              error: (error as Error).message,
            }),
          );
        }
      })();
    }, 20);
    this.refreshTimer.unref();
  }

  /** Lists the queue folders and re-reads any message not where this spool thinks it is. */
  private async rescan(): Promise<void> {
    if (this.closed) return;
    const { scheduler } = this.o;
    const seen = new Set<string>();
    for (const queue of SPOOL_QUEUES) {
      for (const name of await this.o.folder.names(queue).catch(() => [])) {
        seen.add(name);
        if (scheduler.get(name)?.queue !== queue) this.scheduleRefresh(name);
      }
    }
    for (const [id, t] of scheduler.entries()) {
      const stalled = t.queue === 'active' && !t.delivering && !t.timer && !t.ready;
      if ((!seen.has(id) && !t.delivering) || stalled) this.scheduleRefresh(id);
    }
  }

  /** Brings memory in line with what another process did to a message on disk. */
  private async refresh(id: string): Promise<void> {
    const { scheduler, folder } = this.o;
    if (this.closed || scheduler.get(id)?.delivering) return;
    await this.o.locks.run(id, async () => {
      const known = scheduler.get(id);
      if (this.closed || known?.delivering) return;
      if (known) {
        try {
          const meta = await folder.multispool.entry(known.queue, id).metadata();
          if (JSON.stringify(meta) !== JSON.stringify(known.meta)) this.adopt(id, meta, known.queue);
          else if (known.queue === 'active' && !known.timer && !known.ready) {
            // Given back unchanged by another process that had it checked out while it was due.
            scheduler.schedule(known);
            scheduler.pump();
          }
          return;
        } catch (error) {
          if (!(error instanceof ResourceNotFoundError)) throw error;
        }
      }
      const found = await folder.locate(id);
      if (found === 'busy') return; // it will land somewhere and say so
      if (found === null) {
        if (known) scheduler.untrack(id);
        return;
      }
      this.adopt(id, found.meta, found.queue);
    });
  }

  private adopt(id: string, meta: MessageMeta, queue: SpoolQueue): void {
    const { scheduler, emit } = this.o;
    const before = scheduler.get(id)?.queue;
    scheduler.track(meta, queue);
    const at = this.o.clock.now();
    if (before && before !== queue) {
      if (queue === 'frozen' && before === 'active') emit({ type: 'frozen', id, at, reason: meta.frozenReason ?? '' });
      else if (queue === 'active' && before === 'frozen') emit({ type: 'unfrozen', id, at });
      else if (queue === 'removed') emit({ type: 'removed', id, at });
      else if (queue === 'quarantine') emit({ type: 'quarantined', id, at, reason: meta.quarantineReason ?? '' });
      else if (queue === 'frozen' && (before === 'removed' || before === 'quarantine')) {
        emit({ type: 'recovered', id, at, from: before === 'removed' ? 'removed' : 'quarantined' });
      }
    }
    scheduler.pump();
  }
}
