import type {
  FlavorView,
  MoveOptions,
  MoveRecord,
  MoveReport,
  PageQuery,
  PoolAdmin,
  PoolView,
  QueueMover,
} from '../pool/index.js';

export type { FlavorView, MoveOptions, MoveRecord, MoveReport, PageQuery, PoolView };

/**
 * The operator's side of pooling as the transports see it: Zaqar's pools and flavors (the rules
 * and body checks are PoolAdmin's) and the moves of queues between pools (QueueMover's). Routes
 * and actions go through it, never to the pool part, so what pooling is made of can change under
 * them; the server makes it with the service, when pooling is on.
 */
export class PoolAdministration {
  constructor(
    private readonly admin: PoolAdmin,
    private readonly mover: QueueMover,
  ) {}

  listPools(query?: PageQuery): Promise<{ pools: PoolView[]; marker: string | null }> {
    return this.admin.listPools(query);
  }

  getPool(name: string, detailed?: boolean): Promise<PoolView> {
    return this.admin.getPool(name, detailed);
  }

  createPool(name: string, document: unknown): Promise<PoolView> {
    return this.admin.createPool(name, document);
  }

  updatePool(name: string, document: unknown): Promise<PoolView> {
    return this.admin.updatePool(name, document);
  }

  deletePool(name: string): Promise<void> {
    return this.admin.deletePool(name);
  }

  listFlavors(query?: PageQuery): Promise<{ flavors: FlavorView[]; marker: string | null }> {
    return this.admin.listFlavors(query);
  }

  getFlavor(name: string): Promise<FlavorView> {
    return this.admin.getFlavor(name);
  }

  createFlavor(name: string, document: unknown): Promise<FlavorView> {
    return this.admin.createFlavor(name, document);
  }

  updateFlavor(name: string, document: unknown): Promise<FlavorView> {
    return this.admin.updateFlavor(name, document);
  }

  deleteFlavor(name: string): Promise<void> {
    return this.admin.deleteFlavor(name);
  }

  /** Starts moving a queue to `pool` (or resumes its stopped move); the move runs on in this process. */
  startMove(project: string, queue: string, pool: string, options?: MoveOptions): Promise<MoveRecord> {
    return this.mover.start(project, queue, pool, options);
  }

  /** The queue's last move, and whether a process works on it now; null when it never moved. */
  moveStatus(project: string, queue: string): Promise<MoveReport | null> {
    return this.mover.status(project, queue);
  }
}
