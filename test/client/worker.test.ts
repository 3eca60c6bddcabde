import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver } from '../../src/store/disk/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';
import { workerCases } from './worker-cases.js';

workerCases({ name: 'memory', open: async (clock) => createMemoryDriver({ clock }) });

const root = mkdtempSync(join(tmpdir(), 'posthorn-worker-'));
let n = 0;
workerCases({
  name: 'disk',
  open: (clock) => createDiskDriver({ dir: join(root, `store-${n++}`), clock, logger: silentLogger, gcIntervalMs: 0 }),
  async cleanup() {
    rmSync(root, { recursive: true, force: true });
  },
});
