import { type Clock, ignoreMissing, type Limits, QuotaExceededError } from '../core/index.js';
import type { DriverResolver } from './driver-resolver.js';
import { QuotaStore } from './quota-store.js';
import {
  DEFAULT_QUOTA_REFRESH_SECONDS,
  isUnlimited,
  type QuotaLimits,
  type QuotaOverride,
  type QuotaSettings,
  resolveQuotas,
  UNLIMITED,
} from './quotas.js';

/** What a project holds, as its quotas count it. */
export interface QuotaUsage {
  queues: number;
  messages: number;
  /** Bytes of the stored message bodies (see bodySize). */
  bytes: number;
}

/** A project's quotas and usage, as the admin API shows them. */
export interface QuotaReport {
  project: string;
  quotas: QuotaLimits;
  usage: QuotaUsage;
}

/** What one write asks of a project's quotas. */
export interface QuotaRequest {
  /** The queue written to: it counts toward max_queues when the project has no queue of the name. */
  queue: string;
  /** Messages the write adds (0 for a queue create). */
  messages?: number;
  /** The bytes it adds: asked only when bytes are counted. */
  bytes?: () => number;
}

/** Room taken for a write in flight: committed when it was written, released when it failed. */
export interface QuotaReservation {
  readonly project: string;
  readonly queue: string | null;
  readonly messages: number;
  readonly bytes: number;
}

/**
 * How a body is measured, the same way when it is posted and when a project's usage is read
 * back from the store: what the store is handed (a sealed body's bytes, a byte body's bytes, or
 * the UTF-8 length of a JSON body's text).
 */
export function bodySize(body: unknown): number {
  if (body instanceof Uint8Array) return body.byteLength;
  const text = JSON.stringify(body);
  return text === undefined ? 0 : Buffer.byteLength(text);
}

interface Reservation extends QuotaReservation {
  /** The queue name was new to the project when reserved. */
  newQueue: boolean;
  done: boolean;
}

/** What this server knows of one project's usage. */
interface Usage {
  names: Set<string>;
  /** Null: not counted (no quota needed it yet). */
  messages: number | null;
  bytes: number | null;
  loadedAt: number;
  /**
   * False when the counts may be higher than what is stored: something was deleted since they
   * were read, or writes in flight during the read may be counted twice. A refusal is then
   * checked again on a fresh read, so freed room is usable at once.
   */
  exact: boolean;
  /** Bumped by every delete, so a read that a delete overtook is known to be inexact. */
  deletes: number;
  pending: Set<Reservation>;
  /** While a read runs: every reservation in flight during it (it may or may not see them). */
  tracked: Set<Reservation> | null;
  loading: Promise<void> | null;
}

interface Need {
  messages: boolean;
  bytes: boolean;
}

const MAX_PROJECTS = 10_000;

/**
 * The quotas of each project and what each holds, for one server.
 *
 * Storage keeps no byte counts, so a project's usage is read from the store — its queues, each
 * queue's message count, and (only when bytes are counted) every stored body's size — and trusted
 * for `refreshSeconds`; between reads, this server adds what it writes and drops its failed
 * writes. Checking a write and reserving its room happen in one synchronous step once the usage
 * is at hand, so concurrent writes through one server can never overshoot a quota together.
 * Deletes through this server make the counts an upper bound (`exact` false): a write they would
 * refuse is checked again against a fresh read, so room freed is usable at once. Expired messages
 * are noticed at the next read. Concurrent reads of one project share one.
 *
 * Across many servers sharing a store, each counts its own writes and sees the others' only when
 * it reads again: a project can briefly hold more than its quota, by what the other servers
 * accept within one refresh interval. That is the price of not serialising every post of a
 * project through the store; a stricter bound would need a counter in the store itself.
 *
 * The quotas set through the admin API are kept in the store (quota-store.ts) and read again on
 * the same interval, so every server sees a change within it (and the server that made it at once).
 * When no quota applies to a project, a write costs nothing here: no usage is read or kept.
 */
export class QuotaBook {
  private readonly defaults: QuotaOverride | undefined;
  private readonly configured: Readonly<Record<string, QuotaOverride>>;
  private readonly refreshMs: number;
  private readonly store: QuotaStore;
  private readonly usage = new Map<string, Usage>();
  private overrides = new Map<string, QuotaOverride>();
  private overridesAt = Number.NEGATIVE_INFINITY;
  private overridesLoading: Promise<void> | null = null;
  /** While the admin API's quotas are read: what this server set or reset meanwhile (null: reset). */
  private edits: Map<string, QuotaOverride | null> | null = null;

  constructor(
    private readonly resolver: DriverResolver,
    private readonly limits: Limits,
    private readonly clock: Clock,
    settings: QuotaSettings = {},
  ) {
    this.defaults = settings.defaults;
    this.configured = settings.projects ?? {};
    this.refreshMs = (settings.refreshSeconds ?? DEFAULT_QUOTA_REFRESH_SECONDS) * 1000;
    this.store = new QuotaStore(resolver, limits);
  }

  /** The project's quotas; a promise only when the admin API's quotas must be read first. */
  quotasOf(project: string): QuotaLimits | Promise<QuotaLimits> {
    const now = this.clock.now();
    if (now - this.overridesAt < this.refreshMs) return this.resolve(project);
    if (this.overridesAt === Number.NEGATIVE_INFINITY) return this.loadOverrides().then(() => this.resolve(project));
    // Stale but known: serve what is known and read again behind it. A failed read keeps the last
    // view and is tried again on a later request.
    this.loadOverrides().catch(() => {});
    return this.resolve(project);
  }

  /**
   * Checks a write against the project's quotas and reserves its room; null when no quota
   * applies (nothing to commit or release). Throws QuotaExceededError, reserving nothing.
   */
  reserve(project: string, request: QuotaRequest): QuotaReservation | null | Promise<QuotaReservation | null> {
    const quotas = this.quotasOf(project);
    if (quotas instanceof Promise) return quotas.then((q) => this.reserveUnder(project, q, request));
    return this.reserveUnder(project, quotas, request);
  }

  /** The write landed: its room stays taken. */
  commit(reservation: QuotaReservation | null): void {
    if (reservation === null) return;
    const r = reservation as Reservation;
    if (r.done) return;
    r.done = true;
    this.usage.get(r.project)?.pending.delete(r);
  }

  /** The write failed: its room is given back. */
  release(reservation: QuotaReservation | null): void {
    if (reservation === null) return;
    const r = reservation as Reservation;
    if (r.done) return;
    r.done = true;
    const usage = this.usage.get(r.project);
    if (usage === undefined || !usage.pending.delete(r)) return;
    usage.tracked?.delete(r);
    subtract(usage, r);
  }

  /** Something of the project was deleted here (messages, a purge): its counts are an upper bound now. */
  deleted(project: string): void {
    const usage = this.usage.get(project);
    if (usage === undefined) return;
    usage.exact = false;
    usage.deletes++;
  }

  /** A queue of the project was deleted here. */
  queueDeleted(project: string, queue: string): void {
    const usage = this.usage.get(project);
    if (usage === undefined) return;
    usage.names.delete(queue);
    this.deleted(project);
  }

  /** The project's quotas and a fresh count of what it holds (the admin API's GET). */
  async report(project: string): Promise<QuotaReport> {
    const quotas = await this.quotasOf(project);
    const usage = await this.read(project, { messages: true, bytes: true });
    return {
      project,
      quotas,
      usage: { queues: usage.names.size, messages: usage.messages ?? 0, bytes: usage.bytes ?? 0 },
    };
  }

  /** Sets quotas of the project (the admin API's PUT): kept in the store, in force here at once. */
  async set(project: string, quotas: QuotaOverride): Promise<void> {
    await this.store.put(project, quotas);
    this.overrides.set(project, quotas);
    this.edits?.set(project, quotas);
  }

  /** Drops what the admin API set for the project: the configuration's quotas apply again. */
  async reset(project: string): Promise<void> {
    await this.store.remove(project);
    this.overrides.delete(project);
    this.edits?.set(project, null);
  }

  private resolve(project: string): QuotaLimits {
    if (this.defaults === undefined && this.overrides.size === 0 && Object.keys(this.configured).length === 0) {
      return UNLIMITED;
    }
    return resolveQuotas([this.defaults, this.configured[project], this.overrides.get(project)]);
  }

  private loadOverrides(): Promise<void> {
    this.overridesLoading ??= (async () => {
      const edits = new Map<string, QuotaOverride | null>();
      this.edits = edits;
      try {
        const read = await this.store.readAll();
        // A change made here while the read ran may be missing from it: it stays in force.
        for (const [project, quotas] of edits) {
          if (quotas === null) read.delete(project);
          else read.set(project, quotas);
        }
        this.overrides = read;
        this.overridesAt = this.clock.now();
      } finally {
        this.edits = null;
        this.overridesLoading = null;
      }
    })();
    return this.overridesLoading;
  }

  private reserveUnder(
    project: string,
    quotas: QuotaLimits,
    request: QuotaRequest,
  ): QuotaReservation | null | Promise<QuotaReservation | null> {
    if (isUnlimited(quotas)) {
      // Nothing is counted while nothing is limited; a quota set later reads the usage afresh.
      this.usage.delete(project);
      return null;
    }
    const need: Need = { messages: quotas.max_messages !== null, bytes: quotas.max_bytes !== null };
    const known = this.usage.get(project);
    if (known !== undefined && this.fresh(known, need)) {
      const taken = this.take(project, known, quotas, request);
      if (!(taken instanceof QuotaExceededError)) return taken;
      if (known.exact) throw taken;
    }
    return this.read(project, need).then((usage) => {
      const taken = this.take(project, usage, quotas, request);
      if (taken instanceof QuotaExceededError) throw taken;
      return taken;
    });
  }

  /** Checks and reserves in one synchronous step; the refusal is returned, not thrown. */
  private take(
    project: string,
    usage: Usage,
    quotas: QuotaLimits,
    request: QuotaRequest,
  ): Reservation | QuotaExceededError {
    const newQueue = !usage.names.has(request.queue);
    const messages = request.messages ?? 0;
    if (newQueue && quotas.max_queues !== null && usage.names.size + 1 > quotas.max_queues) {
      return new QuotaExceededError(project, 'max_queues', quotas.max_queues, usage.names.size, 1);
    }
    if (messages > 0 && quotas.max_messages !== null && (usage.messages ?? 0) + messages > quotas.max_messages) {
      return new QuotaExceededError(project, 'max_messages', quotas.max_messages, usage.messages ?? 0, messages);
    }
    const bytes = messages > 0 && usage.bytes !== null && request.bytes !== undefined ? request.bytes() : 0;
    if (bytes > 0 && quotas.max_bytes !== null && (usage.bytes ?? 0) + bytes > quotas.max_bytes) {
      return new QuotaExceededError(project, 'max_bytes', quotas.max_bytes, usage.bytes ?? 0, bytes);
    }
    const reservation: Reservation = {
      project,
      queue: request.queue,
      messages,
      bytes,
      newQueue,
      done: false,
    };
    usage.names.add(request.queue);
    if (usage.messages !== null) usage.messages += messages;
    if (usage.bytes !== null) usage.bytes += bytes;
    usage.pending.add(reservation);
    usage.tracked?.add(reservation);
    return reservation;
  }

  private fresh(usage: Usage, need: Need): boolean {
    return (
      this.clock.now() - usage.loadedAt < this.refreshMs &&
      (!need.messages || usage.messages !== null) &&
      (!need.bytes || usage.bytes !== null)
    );
  }

  /** A fresh read of the project's usage (shared with a read under way that counts enough). */
  private async read(project: string, need: Need): Promise<Usage> {
    let usage = this.usage.get(project);
    if (usage === undefined) {
      if (this.usage.size >= MAX_PROJECTS) this.usage.clear();
      usage = {
        names: new Set(),
        messages: null,
        bytes: null,
        loadedAt: Number.NEGATIVE_INFINITY,
        exact: true,
        deletes: 0,
        pending: new Set(),
        tracked: null,
        loading: null,
      };
      this.usage.set(project, usage);
    }
    for (;;) {
      if (usage.loading !== null) {
        // Concurrent reads of one project share one.
        await usage.loading;
        if (this.covers(usage, need)) return usage;
        continue;
      }
      const entry = usage;
      entry.loading = this.load(project, entry, {
        messages: need.messages || entry.messages !== null,
        bytes: need.bytes || entry.bytes !== null,
      }).finally(() => {
        entry.loading = null;
      });
      await entry.loading;
      return entry;
    }
  }

  private covers(usage: Usage, need: Need): boolean {
    return (!need.messages || usage.messages !== null) && (!need.bytes || usage.bytes !== null);
  }

  private async load(project: string, usage: Usage, need: Need): Promise<void> {
    const startedAt = this.clock.now();
    const deletes = usage.deletes;
    usage.tracked = new Set(usage.pending);
    try {
      const counted = await this.count(project, need);
      // Writes in flight during the read may be in what it counted or not: count them again, at
      // the risk of counting one twice (an upper bound, so never an overshoot).
      const tracked = usage.tracked;
      for (const r of tracked) {
        if (r.queue !== null) counted.names.add(r.queue);
        if (counted.messages !== null) counted.messages += r.messages;
        if (counted.bytes !== null) counted.bytes += r.bytes;
      }
      usage.names = counted.names;
      usage.messages = counted.messages;
      usage.bytes = counted.bytes;
      usage.loadedAt = startedAt;
      usage.exact = tracked.size === 0 && usage.deletes === deletes;
    } finally {
      usage.tracked = null;
    }
  }

  /** Reads what the project holds from the store. */
  private async count(
    project: string,
    need: Need,
  ): Promise<{ names: Set<string>; messages: number | null; bytes: number | null }> {
    const names = new Set<string>();
    let marker: string | undefined;
    for (;;) {
      const page = await this.resolver.listQueues(project, {
        limit: this.limits.maxQueuesPerPage,
        ...(marker !== undefined ? { marker } : {}),
      });
      for (const queue of page.queues) names.add(queue.name);
      if (page.queues.length === 0 || page.marker === null || page.marker === marker) break;
      marker = page.marker;
    }
    if (!need.messages && !need.bytes) return { names, messages: null, bytes: null };
    let messages = 0;
    let bytes = 0;
    for (const name of names) {
      const driver = await this.resolver.forQueue(project, name);
      if (!need.bytes) {
        const stats = await ignoreMissing(driver.queues.stats(project, name), null);
        messages += stats?.total ?? 0;
        continue;
      }
      let at: string | undefined;
      for (;;) {
        const page = await ignoreMissing(
          driver.messages.list(project, name, {
            limit: this.limits.maxMessagesPerPage,
            echo: true,
            includeClaimed: true,
            includeDelayed: true,
            ...(at !== undefined ? { marker: at } : {}),
          }),
          null,
        );
        if (page === null || page.messages.length === 0) break;
        messages += page.messages.length;
        for (const m of page.messages) bytes += bodySize(m.body);
        if (page.marker === null || page.marker === at) break;
        at = page.marker;
      }
    }
    return { names, messages, bytes: need.bytes ? bytes : null };
  }
}

function subtract(usage: Usage, r: Reservation): void {
  // The failed write may have created its queue before it failed (or another write to the same
  // new queue may have landed): the name stays, and the count is an upper bound until read again.
  if (r.newQueue) usage.exact = false;
  if (usage.messages !== null) usage.messages = Math.max(0, usage.messages - r.messages);
  if (usage.bytes !== null) usage.bytes = Math.max(0, usage.bytes - r.bytes);
}
