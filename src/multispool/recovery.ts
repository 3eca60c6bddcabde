import { errnoOf, listNames, readFileAsync, renameAsync, unlinkIfPresent } from './disk.js';
import { parseHeldName } from './layout.js';
import { isOwnerAlive, isOwnerToken } from './process-owner.js';
import type { SpoolFiles } from './spool-files.js';

export interface RecoveryReport {
  /** Entries that a dead process held checked out, now back in their queue. */
  returned: { queue: string; name: string }[];
  /** Scratch files of dead processes removed (with the data and names of entries they never finished). */
  scratchRemoved: string[];
  /** Names reserved by dead processes that never got data, freed. */
  namesFreed: string[];
}

/**
 * Repairs what dead processes left half done, and touches nothing of live ones: every file a
 * process holds carries its token, and only files whose holder is dead are acted on, so recovery
 * may run while other processes work in the same spool. The rules follow the write order in
 * spool-files.ts:
 *
 * - `<queue>/.checkout/<name>@<dead>`: back to `<queue>/<name>` with its last saved metadata.
 * - `.tmp/<name>@<dead>.enq`: an enqueue that never reached its queue; its data, name and scratch go.
 * - `.tmp/<name>@<dead>.rm`: a removal that started; it is finished (data, name, scratch go).
 * - `.tmp/<name>@<dead>.save`: new metadata never renamed over the checkout; the scratch goes.
 * - `.tmp/reserve-<n>@<dead>.tok`: a dead process's token file; it goes (its links in
 *   `.registry` keep the token).
 * - `.registry/<name>` reserved by a dead process, with no data and no scratch: a reservation
 *   never used (or the last step of a removal), freed. A name whose data exists is never freed
 *   here: a live entry always has its data.
 */
export async function recoverSpool(files: SpoolFiles<unknown, unknown, string>): Promise<RecoveryReport> {
  const { layout, log } = files;
  const report: RecoveryReport = { returned: [], scratchRemoved: [], namesFreed: [] };
  const verdicts = new Map<string, boolean>();
  const alive = (token: string): boolean => {
    let verdict = verdicts.get(token);
    if (verdict === undefined) {
      verdict = isOwnerAlive(token);
      verdicts.set(token, verdict);
    }
    return verdict;
  };

  for (const queue of files.spoolable.queues) {
    for (const file of await listNames(layout.checkoutDir(queue))) {
      const held = parseHeldName(file);
      if (!held || held.kind !== null || !isOwnerToken(held.owner)) {
        log('warn', 'unexpected file in a checkout folder left alone', { spool: files.dir, queue, file });
        continue;
      }
      if (alive(held.owner)) continue;
      try {
        await renameAsync(`${layout.checkoutDir(queue)}/${file}`, layout.entryPath(queue, held.name));
        report.returned.push({ queue, name: held.name });
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error; // another process recovered it first
      }
    }
  }
  if (report.returned.length > 0) {
    await Promise.all(files.spoolable.queues.map((q) => files.syncer.sync(layout.queueDir(q))));
    log('info', 'entries held by dead processes returned to their queues', {
      spool: files.dir,
      count: report.returned.length,
      entries: report.returned.slice(0, 20).map((e) => `${e.queue}/${e.name}`),
    });
  }

  const scratchNames = new Set<string>();
  for (const file of await listNames(layout.tmp)) {
    const held = parseHeldName(file);
    if (!held || held.kind === null || !isOwnerToken(held.owner)) {
      log('warn', 'unexpected file in the scratch folder left alone', { spool: files.dir, file });
      continue;
    }
    if (alive(held.owner)) {
      scratchNames.add(held.name);
      continue;
    }
    if (held.kind === 'enq' || held.kind === 'rm') {
      await unlinkIfPresent(layout.dataPath(held.name));
      await unlinkIfPresent(layout.registryPath(held.name));
    }
    await unlinkIfPresent(`${layout.tmp}/${file}`);
    if (held.kind !== 'tok') report.scratchRemoved.push(file); // a token file is no unfinished work
  }

  const dataNames = new Set(await listNames(layout.data));
  for (const name of await listNames(layout.registry)) {
    if (dataNames.has(name) || scratchNames.has(name)) continue;
    const path = layout.registryPath(name);
    let token: string;
    try {
      token = (await readFileAsync(path)).toString('latin1');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue;
      throw error;
    }
    if (isOwnerToken(token) && alive(token)) continue;
    if (await unlinkIfPresent(path)) report.namesFreed.push(name);
  }

  if (report.scratchRemoved.length > 0 || report.namesFreed.length > 0) {
    log('info', 'unfinished work of dead processes cleaned up', {
      spool: files.dir,
      scratchRemoved: report.scratchRemoved.length,
      namesFreed: report.namesFreed.length,
    });
  }
  return report;
}
