/**
 * The Lua scripts of the Redis driver, one a file in lua/ (its header names its KEYS, ARGV and
 * answers; shared helpers in lua/includes/). Each runs atomically in Redis, so two claims can never
 * take the same message and a post, a pop or a dead-letter move is all or nothing. Time is never
 * Redis's own: `now` (milliseconds) comes from the driver's Clock as an argument, so a fake clock
 * drives expiry in tests exactly as the real one does in production.
 *
 * KEYS[1] is always the queue's base key (see key-layout.ts); the other keys a script touches
 * are derived from it or from the project base given as an argument, and all carry the same hash
 * tag, so on a Redis Cluster every key a script touches lies in the slot it was routed to.
 *
 * Claims do not rescan: free, visible messages wait in `<q>:ready` (by sequence), claimed ones in
 * `<q>:claimed` (by claim end), delayed ones in `<q>:delayed` (by visible time). Before a claim,
 * `promote` moves the ids whose claim ended or whose delay passed back into ready; a claim then
 * takes the first ids of ready. Every id a claim looks at leaves ready (taken, reclaimed because
 * expired, dead-lettered, or filed back where it belongs), so each message is examined a bounded
 * number of times however many claimed messages sit at the head of the queue.
 *
 * Replies: scripts answer with an array whose first element is a status (1 or 0 ok, negative: a
 * typed failure the driver turns into an error), followed by data. A message travels as 12 items:
 * id, seq, body, ttl, created, expires, visible, claim id, claim end, claim count, client, checksum.
 */
import { fileURLToPath } from 'node:url';
import { loadLuaScripts } from './script-loader.js';

/** The command names the engine calls the scripts of lua/ by: `claim-get-1.lua` is phClaimGet. */
export const SCRIPT_NAMES = [
  'phQueueCreate',
  'phQueueSetMetadata',
  'phQueueDelete',
  'phPurgeTrash',
  'phQueueStats',
  'phPost',
  'phList',
  'phFirst',
  'phGet',
  'phDelete',
  'phBulkDelete',
  'phPop',
  'phClaim',
  'phClaimGet',
  'phClaimUpdate',
  'phClaimDelete',
  'phSubCreate',
  'phSubList',
  'phSubGet',
  'phSubUpdate',
  'phSubDelete',
  'phSubConfirm',
  'phGc',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

export interface ScriptDefinition {
  name: ScriptName;
  numberOfKeys: number;
  lua: string;
}

let loaded: readonly ScriptDefinition[] | undefined;

/**
 * Every script, read from lua/ next to this module (in src/ and in dist/ alike) the first time a
 * connection asks and shared by every connection after; ioredis sends them by EVALSHA, loading on
 * NOSCRIPT. A script missing from the folder, or a file no name here calls, is a broken build.
 */
export function scriptDefinitions(): readonly ScriptDefinition[] {
  if (loaded) return loaded;
  const known = new Set<string>(SCRIPT_NAMES);
  const scripts = loadLuaScripts(fileURLToPath(new URL('./lua/', import.meta.url))).map((script) => {
    const name = `ph${script.name.replace(/(^|-)([a-z])/g, (_m, _dash, letter: string) => letter.toUpperCase())}`;
    if (!known.delete(name))
      throw new Error(`lua/${script.name}-${script.numberOfKeys}.lua is no script of the driver`);
    return { name: name as ScriptName, numberOfKeys: script.numberOfKeys, lua: script.lua };
  });
  if (known.size > 0) throw new Error(`lua/ lacks the scripts ${[...known].join(', ')}`);
  loaded = scripts;
  return loaded;
}
