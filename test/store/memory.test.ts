import { createMemoryDriver } from '../../src/store/memory/index.js';
import { conformanceCases, runConformance } from './conformance/index.js';

runConformance(
  {
    name: 'memory',
    async open(clock) {
      return createMemoryDriver({ clock });
    },
  },
  conformanceCases,
);
