/**
 * The Multispool (async_smtp's On_disk_spool): named queues in a folder that several processes
 * share, one file per entry, checkout by rename, a reader that waits for new entries, and
 * recovery of what dead processes left.
 */
export { DataFile } from './data-file.js';
export type { DirSyncer, Throttle } from './disk.js';
export { exists as spoolPathExists, mkdirAsync as spoolMkdir, spoolFileIo, useSpoolFileIo } from './disk.js';
export { CheckedOutEntry, Entry } from './entry.js';
export type { EntryAction, EntryDecision } from './entry-action.js';
export type { Layout, ScratchKind } from './layout.js';
export { type SpoolLog, type SpoolLogLevel, silentLog, stderrLog } from './log.js';
export {
  type EnqueueName,
  Multispool,
  type MultispoolOptions,
  UniqueName,
} from './multispool.js';
export { QueueReader, type QueueReaderOptions } from './queue-reader.js';
export { type QueueWatch, watchQueue } from './queue-watch.js';
export type { RecoveryReport } from './recovery.js';
export { NewerMetadataError, type SpoolFiles } from './spool-files.js';
export {
  bytesData,
  type DataCodec,
  ENTRY_NAME_PATTERN,
  jsonData,
  jsonMetadata,
  type MetadataCodec,
  type NameGenerator,
  QUEUE_NAME_PATTERN,
  type Spoolable,
  textData,
  timeOrderedNames,
} from './spoolable.js';
