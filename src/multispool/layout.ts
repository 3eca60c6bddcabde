import { join } from 'node:path';

/**
 * Where things live in a spool folder (async_smtp's layout, with the holder's token added to
 * the names of checked-out and scratch files so recovery can tell a dead holder from a live one):
 *
 *     .registry/<name>                  one file per name in use, holding the token of the process
 *                                       that reserved it (a hard link to that process's
 *                                       `.tmp/reserve-<n>@<token>.tok`); link() fails when the
 *                                       name exists, so a name is never handed out twice; removed last
 *     .data/<name>                      the entry's data, written once
 *     .tmp/<name>@<token>.<kind>        scratch: metadata being written (kind `enq` for a new
 *                                       entry, `save` for a rewrite), an entry being removed (`rm`),
 *                                       or a process's token file (`tok`)
 *     <queue>/<name>                    the entry's metadata: the entry is in that queue
 *     <queue>/.checkout/<name>@<token>  the entry, checked out by the process <token> names
 *     .corrupt/<queue>/<name>           metadata that could not be read, moved aside
 *
 * A folder "is a spool" when `.registry` and `.tmp` exist (as in async_smtp).
 */

export type ScratchKind = 'enq' | 'save' | 'rm' | 'tok';

export class Layout {
  readonly registry: string;
  readonly tmp: string;
  readonly data: string;
  readonly corrupt: string;

  constructor(readonly dir: string) {
    this.registry = join(dir, '.registry');
    this.tmp = join(dir, '.tmp');
    this.data = join(dir, '.data');
    this.corrupt = join(dir, '.corrupt');
  }

  queueDir(queue: string): string {
    return join(this.dir, queue);
  }

  checkoutDir(queue: string): string {
    return join(this.dir, queue, '.checkout');
  }

  entryPath(queue: string, name: string): string {
    return join(this.dir, queue, name);
  }

  checkoutPath(queue: string, name: string, owner: string): string {
    return join(this.dir, queue, '.checkout', `${name}@${owner}`);
  }

  dataPath(name: string): string {
    return join(this.data, name);
  }

  registryPath(name: string): string {
    return join(this.registry, name);
  }

  scratchPath(name: string, owner: string, kind: ScratchKind): string {
    return join(this.tmp, `${name}@${owner}.${kind}`);
  }
}

/** Splits `<name>@<token>` (a checkout file) or `<name>@<token>.<kind>` (a scratch file). */
export function parseHeldName(fileName: string): { name: string; owner: string; kind: string | null } | null {
  const at = fileName.lastIndexOf('@');
  if (at <= 0) return null;
  const name = fileName.slice(0, at);
  const rest = fileName.slice(at + 1);
  const dot = rest.indexOf('.');
  return dot < 0 ? { name, owner: rest, kind: null } : { name, owner: rest.slice(0, dot), kind: rest.slice(dot + 1) };
}
