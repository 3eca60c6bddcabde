/**
 * The apps the fuzzers run against, built in process over memory stores and a FakeClock (ages do
 * not drift between two snapshots, so they are compared too): a single memory store, and pooling
 * on — two memory pools in flavor `f1` plus the embedded pool `default` — with the admin API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../../src/api/http/index.js';
import { FakeClock, makeLimits } from '../../../src/core/index.js';
import type { Catalog } from '../../../src/pool/index.js';
import { PoolAdministration, QueueService, singleDriverResolver, storeLimits } from '../../../src/service/index.js';
import { NotificationSpools, notificationSlot } from '../../../src/service/notify/index.js';
import { Spool } from '../../../src/spool/index.js';
import { createMemoryDriver } from '../../../src/store/memory/index.js';
import { poolSetup } from '../../pool/support.js';

export const ADMIN_TOKEN = 'fuzz-admin-token-0123456789abcdef';
export const CLIENT = '3381af92-2b9e-11e3-b191-71861300734c';
/** The projects requests use; snapshots cover both, so a write to either is seen. */
export const PROJECTS = ['fz', 'fz2'] as const;
/** Queue (and topic) names the generators use, valid ones first; snapshots also look them up in the catalog. */
export const QUEUE_NAMES = ['fq1', 'fq2', 'fq3'] as const;
/** Pools and flavors the setup makes; the fuzzer reads them but does not change or delete them (see arbitraries). */
export const SETUP_POOLS = ['p1', 'p2'] as const;
export const SETUP_FLAVOR = 'f1';

export type TargetKind = 'memory' | 'pooled';

export interface FuzzTarget {
  kind: TargetKind;
  app: FastifyInstance;
  service: QueueService;
  clock: FakeClock;
  pools: PoolAdministration | null;
  catalog: Catalog | null;
  close(): Promise<void>;
}

export async function buildTarget(kind: TargetKind): Promise<FuzzTarget> {
  if (kind === 'memory') {
    const clock = new FakeClock();
    const limits = makeLimits();
    const driver = createMemoryDriver({ clock, limits: storeLimits(limits) });
    const service = new QueueService({
      resolver: singleDriverResolver(driver),
      limits,
      clock,
      signedUrlSecret: 'fuzz-secret',
    });
    const app = buildHttpApp({ service, adminToken: ADMIN_TOKEN });
    await app.ready();
    return { kind, app, service, clock, pools: null, catalog: null, close: () => app.close() };
  }
  const clock = new FakeClock();
  const setup = poolSetup({ clock });
  for (const name of SETUP_POOLS) await setup.admin.createPool(name, { uri: 'memory://', weight: 100 });
  await setup.admin.createFlavor(SETUP_FLAVOR, { pool_list: [...SETUP_POOLS] });
  // The admin spool routes over an empty notification spool, as a server's notifier leaves it.
  const notifications = mkdtempSync(join(tmpdir(), 'posthorn-fuzz-notify-'));
  const spool = await Spool.create<null>({
    dir: notificationSlot(notifications, 0).spoolDir,
    deliver: () => 'delivered',
    log: () => {},
  });
  await spool.close();
  const pools = new PoolAdministration(setup.admin, setup.mover);
  const app = buildHttpApp({
    service: setup.service,
    pooling: pools,
    adminToken: ADMIN_TOKEN,
    notificationSpools: new NotificationSpools(notifications, clock, () => {}),
  });
  await app.ready();
  return {
    kind,
    app,
    service: setup.service,
    clock,
    pools,
    catalog: setup.catalog,
    async close() {
      await setup.mover.close();
      await app.close();
      rmSync(notifications, { recursive: true, force: true });
    },
  };
}
