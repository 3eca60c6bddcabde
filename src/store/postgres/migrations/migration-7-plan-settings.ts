import type { Migration } from './migration.js';

export const migration7: Migration = {
  version: 7,
  name: 'plan settings of the claim, pop and delete functions',
  sql: (s) => `
      -- Measured under the Worker's load (a claim, then a delete, of about 20 messages each, one
      -- connection, server CPU read from /proc): the delete cost 730 µs a call and the claim 800.
      --
      -- delete_claimed_ids found the claims it checks by a sequential scan of the claims table,
      -- comparing every claim row with every id of the call: the table holds every claim made
      -- since the last gc, its statistics lag far behind it, and the planner took it for small.
      -- Its primary key finds them whatever the statistics say. Half the delete's cost went.
      ALTER FUNCTION ${s}.delete_claimed_ids(text, text, uuid[], uuid[], bigint) SET enable_seqscan = off;
      -- Every statement of these functions was planned again on every call (custom plans, as their
      -- parameters change each time), about 150 µs of a claim's 800. Their plans do not depend on
      -- the values: walks of the primary key from a queue's head or over a range of positions,
      -- lookups by id, scans of the call's own arrays. One generic plan per connection serves.
      ALTER FUNCTION ${s}.delete_claimed_ids(text, text, uuid[], uuid[], bigint)
        SET plan_cache_mode = force_generic_plan;
      ALTER FUNCTION ${s}.take_claims_v4(text, text, bigint, uuid[], integer[], bigint[], bigint[])
        SET plan_cache_mode = force_generic_plan;
      ALTER FUNCTION ${s}.take_messages_v4(text, text, bigint, integer, uuid, bigint, bigint)
        SET plan_cache_mode = force_generic_plan;
      -- A generic plan cannot see the limit of a claim: keep it from preferring a scan of the
      -- whole table and a sort to the walk of the primary key.
      ALTER FUNCTION ${s}.take_claims_v4(text, text, bigint, uuid[], integer[], bigint[], bigint[])
        SET enable_seqscan = off;
      ALTER FUNCTION ${s}.take_messages_v4(text, text, bigint, integer, uuid, bigint, bigint)
        SET enable_seqscan = off;
    `,
};
