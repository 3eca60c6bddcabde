import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conformanceCases, runConformance } from '../../src/conformance/index.js';
import { silentLogger } from '../../src/core/index.js';
import { createDiskDriver, type DiskDriver } from '../../src/store/disk/index.js';

const root = mkdtempSync(join(tmpdir(), 'posthorn-disk-conformance-'));
const dirOf = new WeakMap<object, string>();
let n = 0;

runConformance(
  {
    name: 'disk',
    async open(clock) {
      const dir = join(root, `store-${n++}`);
      const driver = await createDiskDriver({
        dir,
        clock,
        logger: silentLogger,
        gcIntervalMs: 0,
        segmentSize: 256 * 1024,
      });
      dirOf.set(driver, dir);
      return driver;
    },
    async reopen(driver, clock) {
      const dir = (driver as DiskDriver).dir;
      await driver.close();
      const again = await createDiskDriver({
        dir,
        clock,
        logger: silentLogger,
        gcIntervalMs: 0,
        segmentSize: 256 * 1024,
      });
      return again;
    },
    async cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  },
  conformanceCases,
);
