import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** One Lua script of a folder, its includes in place, as ioredis defines a command. */
export interface LuaScript {
  /** The file's name less its key count: `claim-get-1.lua` is `claim-get`. */
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** A script's file name says how many of its arguments are keys, as BullMQ's do: `post-2.lua`. */
const SCRIPT_FILE = /^([a-z][a-z0-9-]*)-(\d+)\.lua$/;
/** An include line names a file relative to the one it is in, without `.lua`. */
const INCLUDE_LINE = /^--- @include "([^"]+)"[ \t]*\n?/gm;

/**
 * Reads every `<name>-<keys>.lua` of a folder (the includes it holds in subfolders are not
 * scripts), each `--- @include "<path>"` line replaced by that file. A file is included once per
 * script, where it is first asked for, so a helper comes before the helpers and the body that
 * use it (Lua's locals must be defined before use); an include cycle is an error.
 */
export function loadLuaScripts(folder: string): LuaScript[] {
  const scripts: LuaScript[] = [];
  for (const file of readdirSync(folder).sort()) {
    const parts = SCRIPT_FILE.exec(file);
    if (!parts) continue;
    scripts.push({
      name: parts[1] as string,
      numberOfKeys: Number(parts[2]),
      lua: expandIncludes(join(folder, file), new Set(), []),
    });
  }
  return scripts;
}

function expandIncludes(file: string, included: Set<string>, including: readonly string[]): string {
  const text = readFileSync(file, 'utf8');
  const chain = [...including, file];
  return text.replace(INCLUDE_LINE, (_line, target: string) => {
    const path = resolve(dirname(file), `${target}.lua`);
    if (chain.includes(path)) throw new Error(`Lua include cycle: ${[...chain, path].join(' -> ')}`);
    if (included.has(path)) return '';
    const expanded = expandIncludes(path, included, chain);
    included.add(path);
    return expanded;
  });
}
