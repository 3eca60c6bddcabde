import { existsSync } from 'node:fs';
import {
  type Clock,
  InvalidArgumentError,
  NotASpoolError,
  type PosthornError,
  ResourceNotFoundError,
} from '../../core/index.js';
import { type SpoolLog, stderrLog } from '../../multispool/index.js';
import {
  describeMessage,
  freezeMeta,
  MESSAGE_ID_PATTERN,
  type MessageMeta,
  recoverMeta,
  removeMeta,
  SPOOL_QUEUES,
  type SpooledMessageInfo,
  SpoolFolder,
  type SpoolQueue,
  sendMeta,
} from '../../spool/index.js';
import { listNotificationSlots } from './slots.js';

/** A spooled notification as the admin API lists it: where it is (slot, queue) and its state. */
export interface SpoolEntry extends SpooledMessageInfo<unknown> {
  slot: number;
  queue: SpoolQueue;
}

/** An entry checked out right now: being delivered, or changed by another operator. */
export interface BusySpoolEntry {
  id: string;
  slot: number;
  queue: SpoolQueue;
}

export interface SpoolListing {
  messages: SpoolEntry[];
  busy: BusySpoolEntry[];
  counts: Record<SpoolQueue | 'busy' | 'waiting', number>;
}

/** What an action did: the ids changed, and those another process took meanwhile. */
export interface SpoolActionResult {
  done: string[];
  failed: { id: string; error: PosthornError }[];
}

/**
 * The operator's actions on a server's notification spools — list, send now, freeze, remove,
 * recover — for the admin API, the same ones `posthorn spool --data` takes. They work on the
 * files of every slot's spool (each server process has its own slot), so one request reaches the
 * notifications of every process sharing the folder; the running spools notice the changes, as
 * they notice the command's. Every id of a request is checked in every spool before any is
 * changed, so a bad request changes nothing.
 */
export class NotificationSpools {
  private readonly folders = new Map<string, Promise<SpoolFolder>>();

  constructor(
    /** The notifications folder (`[notification] dir`), whose slots hold the spools. */
    readonly dir: string,
    private readonly clock: Clock,
    private readonly log: SpoolLog = stderrLog,
  ) {}

  /** Every entry (or those of `ids`), oldest first, with what is busy and counts per queue. */
  async list(ids: readonly string[] = []): Promise<SpoolListing> {
    const wanted = new Set(checkIds(ids, 'optional'));
    const messages: SpoolEntry[] = [];
    const busy: BusySpoolEntry[] = [];
    for (const { slot, folder } of await this.targets()) {
      for (const l of await folder.readAll()) {
        if (wanted.size === 0 || wanted.has(l.meta.id))
          messages.push({ ...describeMessage(l.meta), slot, queue: l.queue });
      }
      for (const queue of SPOOL_QUEUES) {
        for (const c of await folder.multispool.listCheckouts(queue)) {
          if (wanted.size === 0 || wanted.has(c.name)) busy.push({ id: c.name, slot, queue });
        }
      }
    }
    messages.sort((a, b) => a.spooledAt - b.spooledAt || (a.id < b.id ? -1 : 1));
    const counts = { active: 0, frozen: 0, removed: 0, quarantine: 0, busy: busy.length, waiting: 0 };
    for (const m of messages) counts[m.queue]++;
    counts.waiting = counts.active + counts.frozen + busy.length;
    return { messages, busy, counts };
  }

  /** Send now: frozen entries are unfrozen, waiting ones brought forward; no ids: every frozen and waiting one. */
  async send(ids: readonly string[] = []): Promise<SpoolActionResult> {
    const now = this.clock.now();
    const transition = (meta: MessageMeta) => sendMeta(meta, [], now);
    if (ids.length > 0) return this.act(checkIds(ids, 'required'), transition);
    const all: string[] = [];
    for (const { folder } of await this.targets()) {
      for (const l of await folder.readAll(['frozen', 'active'])) {
        if (l.meta.status === 'frozen' || l.meta.status === 'send-at') all.push(l.meta.id);
      }
    }
    return this.act(all, transition);
  }

  /** Stops delivering the entries until they are sent again. */
  freeze(ids: readonly string[], reason = 'frozen by an operator'): Promise<SpoolActionResult> {
    return this.act(checkIds(ids, 'required'), (meta) => freezeMeta(meta, reason));
  }

  /** Moves frozen entries to `removed` (kept: recover brings them back). */
  remove(ids: readonly string[]): Promise<SpoolActionResult> {
    return this.act(checkIds(ids, 'required'), removeMeta);
  }

  /** Brings removed or quarantined entries back, frozen (send them to deliver). */
  recover(ids: readonly string[], from: 'removed' | 'quarantined'): Promise<SpoolActionResult> {
    return this.act(checkIds(ids, 'required'), (meta) => recoverMeta(meta, from));
  }

  private async act(ids: string[], transition: (meta: MessageMeta) => MessageMeta): Promise<SpoolActionResult> {
    const targets = await this.targets();
    const groups = new Map<SpoolFolder, string[]>();
    for (const id of ids) {
      let home: SpoolFolder | undefined;
      for (const { folder } of targets) {
        if ((await folder.locate(id)) !== null) {
          home = folder;
          break;
        }
      }
      if (home === undefined) throw new ResourceNotFoundError('spool message', id);
      groups.set(home, [...(groups.get(home) ?? []), id]);
    }
    for (const [folder, group] of groups) await folder.checkAll(group, transition);
    const result: SpoolActionResult = { done: [], failed: [] };
    for (const [folder, group] of groups) {
      const changed = await folder.changeAll(group, transition);
      result.done.push(...changed.done.map((c) => c.before.id));
      result.failed.push(...changed.failed);
    }
    return result;
  }

  private async targets(): Promise<{ slot: number; folder: SpoolFolder }[]> {
    const slots = listNotificationSlots(this.dir).filter((s) => existsSync(s.spoolDir));
    if (slots.length === 0) throw new NotASpoolError(this.dir, 'it holds no notification spool (<n>/spool)');
    const out: { slot: number; folder: SpoolFolder }[] = [];
    for (const s of slots) {
      let folder = this.folders.get(s.spoolDir);
      if (folder === undefined) {
        // Never creates: a spool is the notifier's to make.
        folder = SpoolFolder.open(s.spoolDir, { createIfMissing: false, log: this.log });
        this.folders.set(s.spoolDir, folder);
        folder.catch(() => this.folders.delete(s.spoolDir));
      }
      out.push({ slot: s.slot, folder: await folder });
    }
    return out;
  }
}

function checkIds(ids: readonly string[], need: 'optional' | 'required'): string[] {
  if (need === 'required' && ids.length === 0)
    throw new InvalidArgumentError('ids', 'must name at least one spool message');
  for (const id of ids) {
    if (typeof id !== 'string' || !MESSAGE_ID_PATTERN.test(id)) {
      throw new InvalidArgumentError('ids', `${JSON.stringify(id)} is not a spool message id`);
    }
  }
  return [...new Set(ids)];
}
