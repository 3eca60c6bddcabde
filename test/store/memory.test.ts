import { conformanceCases, runConformance } from '../../src/conformance/index.js';
import { createMemoryDriver } from '../../src/store/memory/index.js';

runConformance(
  {
    name: 'memory',
    async open(clock) {
      return createMemoryDriver({ clock });
    },
  },
  conformanceCases,
);
