// Run with `node --test` in a project that installed the packed tarball: the conformance suite,
// as a driver author runs it, against the memory driver.
import { createMemoryDriver } from 'posthorn';
import { conformanceCases, runConformance } from 'posthorn/conformance';

runConformance(
  { name: 'memory (from the package)', open: async (clock) => createMemoryDriver({ clock }) },
  conformanceCases,
);
