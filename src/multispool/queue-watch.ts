import { type FSWatcher, watch } from 'node:fs';

/**
 * Change notices for one queue folder through fs.watch (inotify on Linux). Notices are hints,
 * never the truth: they can be lost (inotify's queue overflows under load, some file systems
 * send none), so whoever waits on them also re-lists the folder on a timer. `onChange` gets the
 * file name when the platform gives one, or null when something changed but it is not known what.
 */
export interface QueueWatch {
  close(): void;
}

export function watchQueue(dir: string, onChange: (name: string | null) => void): QueueWatch {
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => onChange(typeof name === 'string' ? name : null));
    watcher.on('error', () => {
      // A watch that broke (folder removed, too many watches) falls back to re-listing alone.
      watcher?.close();
      watcher = undefined;
      onChange(null);
    });
  } catch {
    watcher = undefined;
  }
  return {
    close() {
      watcher?.close();
      watcher = undefined;
    },
  };
}
