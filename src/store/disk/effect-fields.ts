import type { Effect, Post, Relocate } from '../state/index.js';

/**
 * The log's names for the effects it stores as MessagePack maps. The log keeps the short names
 * it was first written with (`t`, `p`, `q`, `meta`, `qcreate`…) so that every folder ever written
 * still opens and a record is written byte for byte as before; the state names fields for what
 * they are. Keys are renamed where they stand, so the map keeps the order of the effect's fields.
 */

/** Effects stored as MessagePack maps: posts and relocations have binary records of their own. */
export type MappedEffect = Exclude<Effect, Post | Relocate>;

const STORED_TYPE: Record<MappedEffect['type'], string> = {
  queueCreate: 'qcreate',
  queueMetadataSet: 'qmeta',
  queueDelete: 'qdelete',
  claimCreate: 'claim',
  claimUpdate: 'cupdate',
  claimDelete: 'cdelete',
  messagesDelete: 'delete',
  pop: 'pop',
  subscriptionCreate: 'screate',
  subscriptionUpdate: 'supdate',
  subscriptionDelete: 'sdelete',
  subscriptionConfirm: 'sconfirm',
};

const STORED_FIELD: Readonly<Record<string, string>> = { type: 't', project: 'p', queue: 'q', metadata: 'meta' };

const TYPE_OF = new Map(Object.entries(STORED_TYPE).map(([type, stored]) => [stored, type]));
const FIELD_OF = new Map(Object.entries(STORED_FIELD).map(([field, stored]) => [stored, field]));

/** The map the log stores for an effect. */
export function toStoredEffect(effect: MappedEffect): Record<string, unknown> {
  const stored: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(effect)) {
    stored[STORED_FIELD[field] ?? field] = field === 'type' ? STORED_TYPE[effect.type] : value;
  }
  return stored;
}

/**
 * The effect a stored map holds, or null when it is none this version knows (a later version's):
 * such a record is passed over, as the state passes over an effect it has no case for, and its
 * bytes are kept.
 */
export function fromStoredEffect(stored: unknown): MappedEffect | null {
  if (typeof stored !== 'object' || stored === null) return null;
  const type = TYPE_OF.get((stored as { t?: unknown }).t as string);
  if (type === undefined) return null;
  const effect: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(stored)) {
    effect[FIELD_OF.get(name) ?? name] = name === 't' ? type : value;
  }
  return effect as unknown as MappedEffect;
}
