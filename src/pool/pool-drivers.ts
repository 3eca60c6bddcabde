import {
  type Clock,
  ClosedError,
  isPosthornError,
  StorageMisconfiguredError,
  StorageUnavailableError,
  systemClock,
} from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';
import { redactPoolUri } from './pool-uri.js';

interface Entry {
  uri: string;
  driver: DataDriver | null;
  opening: Promise<DataDriver> | null;
  /** When the last open failed, and why; the next try waits `retryMs` after it. */
  failedAt: number;
  error: Error | null;
}

/**
 * The pools' drivers, opened on first use and kept (Zaqar's Catalog.get_driver). A pool whose
 * store cannot be opened answers StorageUnavailableError — HTTP 503 — and is tried again on a
 * later request, at most once per `retryMs`, so a pool that comes back is used again without a
 * restart and a pool that stays away is not hammered. Concurrent first uses share one open. A
 * driver once open reconnects by itself (ioredis, node-postgres), so it is kept through outages.
 */
export class PoolDrivers {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly open: (uri: string, pool: string) => Promise<DataDriver>,
    private readonly clock: Clock = systemClock,
    private readonly retryMs = 1000,
  ) {}

  /** The open driver of `pool`, if it is open now (no waiting). */
  peek(pool: string, uri: string): DataDriver | undefined {
    const entry = this.entries.get(pool);
    return entry !== undefined && entry.uri === uri && entry.driver !== null ? entry.driver : undefined;
  }

  /** The driver of `pool` at `uri`, opened when needed. A changed URI closes the old driver. */
  get(pool: string, uri: string): Promise<DataDriver> {
    if (this.closed) return Promise.reject(new ClosedError('the pool catalog'));
    let entry = this.entries.get(pool);
    if (entry !== undefined && entry.uri !== uri) {
      this.drop(pool);
      entry = undefined;
    }
    if (entry === undefined) {
      entry = { uri, driver: null, opening: null, failedAt: 0, error: null };
      this.entries.set(pool, entry);
    }
    if (entry.driver !== null) return Promise.resolve(entry.driver);
    if (entry.opening !== null) return entry.opening;
    if (entry.error !== null && this.clock.now() - entry.failedAt < this.retryMs) {
      return Promise.reject(unavailable(pool, uri, entry.error));
    }
    const current = entry;
    current.opening = this.open(uri, pool).then(
      (driver) => {
        current.opening = null;
        if (this.entries.get(pool) !== current || this.closed) {
          // Dropped or closed while opening: nobody will close this driver but us.
          void driver.close().catch(() => {});
          throw new StorageUnavailableError(`pool ${JSON.stringify(pool)} was removed while it opened`);
        }
        current.driver = driver;
        current.error = null;
        return driver;
      },
      (error: unknown) => {
        current.opening = null;
        current.failedAt = this.clock.now();
        current.error = error instanceof Error ? error : new Error(String(error));
        throw unavailable(pool, uri, current.error);
      },
    );
    return current.opening;
  }

  /** Closes and forgets a pool's driver (the pool was deleted, or its URI changed). */
  drop(pool: string): void {
    const entry = this.entries.get(pool);
    if (entry === undefined) return;
    this.entries.delete(pool);
    if (entry.driver !== null) void entry.driver.close().catch(() => {});
  }

  /** Closes every driver. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const open = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      open.map(async (entry) => {
        const driver = entry.driver ?? (await entry.opening?.catch(() => null)) ?? null;
        await driver?.close().catch(() => {});
      }),
    );
  }
}

function unavailable(pool: string, uri: string, cause: Error): Error {
  if (cause instanceof StorageMisconfiguredError) return cause;
  const reason = isPosthornError(cause) ? cause.message : `${cause.name}: ${cause.message}`;
  return new StorageUnavailableError(
    `pool ${JSON.stringify(pool)} (${redactPoolUri(uri)}) cannot be opened: ${reason}`,
    {
      cause,
    },
  );
}
