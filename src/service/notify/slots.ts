import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The layout of a notifications folder: each server process takes a slot `<dir>/<n>/` (the
 * first one no running process holds) with its delivery spool in `<dir>/<n>/spool` and its
 * delivery counts beside it. The notifier makes slots; `posthorn notify status` and
 * `posthorn spool --data` read them.
 */
export interface NotificationSlot {
  slot: number;
  /** The slot's folder (absolute). */
  dir: string;
  /** The slot's delivery spool folder (absolute). */
  spoolDir: string;
}

/** Slots a notifications folder may have: one per process serving from it. */
export const MAX_SLOTS = 256;

export function notificationSlot(dir: string, slot: number): NotificationSlot {
  const slotDir = join(resolve(dir), String(slot));
  return { slot, dir: slotDir, spoolDir: join(slotDir, 'spool') };
}

/** The slots a notifications folder holds now, in slot order (none when the folder does not exist). */
export function listNotificationSlots(dir: string): NotificationSlot[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => notificationSlot(dir, Number(e.name)))
    .sort((a, b) => a.slot - b.slot);
}
