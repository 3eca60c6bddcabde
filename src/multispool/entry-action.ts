import type { DataFile } from './data-file.js';

/** What `f` decides for a checked-out entry: save it (new metadata, a queue) or remove it; and a result. */
export type EntryDecision<M, Q extends string> = { save: readonly [M, Q] } | 'remove';

export type EntryAction<M, D, Q extends string, R> = (
  metadata: M,
  dataFile: DataFile<D>,
) => Promise<readonly [EntryDecision<M, Q>, R]> | readonly [EntryDecision<M, Q>, R];
