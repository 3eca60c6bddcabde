import type { Migration } from './migration.js';
import { migration1 } from './migration-1-tables.js';
import { migration2 } from './migration-2-functions.js';
import { migration3 } from './migration-3-tuning-listing-and-lanes.js';
import { migration4 } from './migration-4-dead-letter-counts.js';
import { migration5 } from './migration-5-idempotency-keys.js';
import { migration6 } from './migration-6-deleted-ids.js';
import { migration7 } from './migration-7-plan-settings.js';
import { migration8 } from './migration-8-delete-and-take.js';

export type { Migration } from './migration.js';

/** Every migration, in order; a new one goes at the end. */
export const MIGRATIONS: readonly Migration[] = [
  migration1,
  migration2,
  migration3,
  migration4,
  migration5,
  migration6,
  migration7,
  migration8,
];

/** The schema version this code writes and reads. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
