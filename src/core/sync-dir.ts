import { closeSync, constants, fsyncSync, openSync } from 'node:fs';

/**
 * Fsyncs a folder, so that files created, renamed or removed in it stay so after a crash: a
 * rename is durable only once its folder is.
 */
export function syncDir(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
