import type { Migration } from './migration.js';

export const migration8: Migration = {
  version: 8,
  name: 'deletes with claim ids and claims of one queue in one call',
  sql: (s) => `
      -- The deletes with claim ids and the claims of one queue that wait together (the driver's
      -- consume lane: a consumer deletes what it finished and claims more at about the same time)
      -- in one transaction, one commit and one round trip instead of two of each: the deletes
      -- first, as delete_claimed_ids (6) makes them, then the claims, as take_claims_v4 (4) makes
      -- them. Rows: one per (id, claim) pair deleted, with seq 0 and only id and claim_id set;
      -- then take_claims_v4's (its messages, and the row with a null id that counts what it
      -- dead-lettered). Either part is skipped when it has nothing to do. A missing queue raises
      -- PH404 only when there are claims (the deletes alone find nothing, as delete_claimed_ids).
      CREATE FUNCTION ${s}.delete_and_take(p_project text, p_queue text, p_now bigint, p_ids uuid[],
          p_id_claims uuid[], p_claims uuid[], p_limits integer[], p_ttls bigint[], p_graces bigint[])
      RETURNS SETOF ${s}.messages LANGUAGE plpgsql AS $fn$
      DECLARE
        v_gone ${s}.messages%ROWTYPE;
      BEGIN
        IF cardinality(p_ids) > 0 THEN
          v_gone.seq := 0;
          FOR v_gone.id, v_gone.claim_id IN
            SELECT d.o_id, d.o_claim FROM ${s}.delete_claimed_ids(p_project, p_queue, p_ids, p_id_claims, p_now) d
          LOOP
            RETURN NEXT v_gone;
          END LOOP;
        END IF;
        IF cardinality(p_claims) > 0 THEN
          RETURN QUERY SELECT * FROM ${s}.take_claims_v4(p_project, p_queue, p_now, p_claims, p_limits, p_ttls, p_graces);
        END IF;
      END $fn$;
    `,
};
