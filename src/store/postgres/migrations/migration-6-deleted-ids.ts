import type { Migration } from './migration.js';

export const migration6: Migration = {
  version: 6,
  name: 'deletes with claim ids that tell which messages went',
  sql: (s) => `
      -- delete_claimed of migration 3, answering the (id, claim) pairs it deleted instead of how
      -- many: the delete lane tells each of the bulk deletes it carried which of its ids went, so
      -- a consumer finishing many messages of one claim learns which it still held. A new name,
      -- as in migration 4, for a server of an older version still calling the old one.
      CREATE FUNCTION ${s}.delete_claimed_ids(p_project text, p_queue text, p_ids uuid[], p_claims uuid[],
          p_now bigint)
      RETURNS TABLE (o_id uuid, o_claim uuid) LANGUAGE plpgsql
      SET enable_bitmapscan = off
      SET enable_nestloop = off
      AS $fn$
      DECLARE
        v_queue bigint;
        v_lo bigint;
        v_hi bigint;
        v_held integer;
      BEGIN
        SELECT id INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN RETURN; END IF;
        SELECT min(h.seq), max(h.seq), count(*) INTO v_lo, v_hi, v_held
          FROM (SELECT unnest(c.seqs) AS seq FROM ${s}.claims c
                 WHERE c.id = ANY (p_claims) AND c.queue_id = v_queue AND c.expires_at > p_now) h;
        IF v_held = 0 THEN RETURN; END IF;
        IF v_hi - v_lo < 4 * v_held + 256 THEN
          RETURN QUERY WITH gone AS (
            DELETE FROM ${s}.messages m
             WHERE m.queue_id = v_queue AND m.seq BETWEEN v_lo AND v_hi AND m.claim_expires_at > p_now
               AND m.expires_at > p_now
               AND (m.id, m.claim_id) IN (SELECT d.id, d.claim FROM unnest(p_ids, p_claims) AS d(id, claim))
            RETURNING m.id, m.claim_id)
          SELECT gone.id, gone.claim_id FROM gone;
        ELSE
          RETURN QUERY WITH gone AS (
            DELETE FROM ${s}.messages m
             WHERE m.id = ANY (p_ids) AND m.queue_id + 0 = v_queue AND m.claim_expires_at > p_now
               AND m.expires_at > p_now
               AND (m.id, m.claim_id) IN (SELECT d.id, d.claim FROM unnest(p_ids, p_claims) AS d(id, claim))
            RETURNING m.id, m.claim_id)
          SELECT gone.id, gone.claim_id FROM gone;
        END IF;
      END $fn$;
    `,
};
