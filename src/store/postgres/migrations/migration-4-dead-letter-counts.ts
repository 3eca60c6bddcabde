import type { Migration } from './migration.js';

export const migration4: Migration = {
  version: 4,
  name: 'claims and pops that tell how many messages they dead-lettered',
  sql: (s) => `
      -- take_messages (2, tuned in 3) and take_claims (3) as they were, but each also tells how
      -- many messages it moved to the dead-letter queue, for the server's metrics, in the same
      -- round trip: one row more, whose id is null and whose claim_count is that number (no such
      -- row when none moved). New names, not CREATE OR REPLACE: a server of an older version
      -- still running against this schema (a rolling upgrade) calls the old ones, and would take
      -- that row for a message.
      CREATE FUNCTION ${s}.take_messages_v4(p_project text, p_queue text, p_now bigint, p_limit integer,
          p_claim uuid, p_claim_ttl bigint, p_claim_grace bigint)
      RETURNS SETOF ${s}.messages LANGUAGE plpgsql
      SET enable_bitmapscan = off
      AS $fn$
      DECLARE
        v_queue ${s}.queues%ROWTYPE;
        v_want integer := p_limit;
        v_asked integer;
        v_seen integer;
        v_free bigint[];
        v_poison bigint[];
        v_taken bigint[] := '{}';
        v_claim_end bigint := p_now + p_claim_ttl * 1000;
        v_dlq_queue bigint;
        v_dlq_first bigint;
        v_moved integer := 0;
        v_report ${s}.messages%ROWTYPE;
      BEGIN
        SELECT * INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN
          IF p_claim IS NULL THEN RETURN; END IF;
          RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'PH404';
        END IF;
        LOOP
          v_asked := v_want;
          SELECT count(*),
                 coalesce(array_agg(t.seq ORDER BY t.seq) FILTER (
                   WHERE v_queue.dlq_max_claims IS NULL OR t.claim_count < v_queue.dlq_max_claims), '{}'),
                 coalesce(array_agg(t.seq ORDER BY t.seq) FILTER (
                   WHERE t.claim_count >= v_queue.dlq_max_claims), '{}')
            INTO v_seen, v_free, v_poison
            FROM (SELECT m.seq, m.claim_count FROM ${s}.messages m
                   WHERE m.queue_id = v_queue.id AND m.expires_at > p_now AND m.visible_at <= p_now
                     AND (m.claim_id IS NULL OR m.claim_expires_at <= p_now)
                   ORDER BY m.seq LIMIT v_asked
                   FOR UPDATE SKIP LOCKED) t;
          IF cardinality(v_poison) > 0 THEN
            SELECT r.o_queue, r.o_first INTO v_dlq_queue, v_dlq_first
              FROM ${s}.reserve_seqs(p_project, v_queue.dlq_queue, cardinality(v_poison), p_now) r;
            WITH moved AS (DELETE FROM ${s}.messages m WHERE m.queue_id = v_queue.id AND m.seq = ANY (v_poison)
                           RETURNING m.*)
            INSERT INTO ${s}.messages (queue_id, seq, id, ttl, created_at, expires_at, visible_at, claim_id,
                                       claim_expires_at, claim_count, client_id, checksum, body)
            SELECT v_dlq_queue, v_dlq_first + row_number() OVER (ORDER BY moved.seq) - 1, moved.id,
                   coalesce(v_queue.dlq_ttl, moved.ttl), moved.created_at,
                   CASE WHEN v_queue.dlq_ttl IS NULL THEN moved.expires_at ELSE p_now + v_queue.dlq_ttl * 1000 END,
                   moved.visible_at, NULL, 0, 0, moved.client_id, moved.checksum, moved.body
              FROM moved;
            v_moved := v_moved + cardinality(v_poison);
          END IF;
          IF cardinality(v_free) > 0 THEN
            IF p_claim IS NULL THEN
              RETURN QUERY
                WITH gone AS (DELETE FROM ${s}.messages m WHERE m.queue_id = v_queue.id AND m.seq = ANY (v_free)
                              RETURNING m.*)
                SELECT * FROM gone;
            ELSE
              -- A message that would die before the claim ends lives on to its end plus grace.
              RETURN QUERY
                WITH held AS (
                  UPDATE ${s}.messages m
                     SET claim_id = p_claim, claim_expires_at = v_claim_end, claim_count = m.claim_count + 1,
                         ttl = CASE WHEN m.expires_at < v_claim_end THEN p_claim_ttl + p_claim_grace ELSE m.ttl END,
                         expires_at = CASE WHEN m.expires_at < v_claim_end
                                           THEN v_claim_end + p_claim_grace * 1000 ELSE m.expires_at END
                   WHERE m.queue_id = v_queue.id AND m.seq = ANY (v_free)
                   RETURNING m.*)
                SELECT * FROM held;
            END IF;
            v_taken := v_taken || v_free;
            v_want := v_want - cardinality(v_free);
          END IF;
          -- Only moving poison makes room for more: otherwise the page was full or the queue ran out.
          EXIT WHEN v_want = 0 OR cardinality(v_poison) = 0 OR v_seen < v_asked;
        END LOOP;
        IF p_claim IS NOT NULL AND cardinality(v_taken) > 0 THEN
          INSERT INTO ${s}.claims (id, queue_id, ttl, grace, updated_at, expires_at, seqs)
          VALUES (p_claim, v_queue.id, p_claim_ttl, p_claim_grace, p_now, v_claim_end, v_taken);
        END IF;
        IF v_moved > 0 THEN
          v_report.claim_count := v_moved;
          RETURN NEXT v_report;
        END IF;
      END $fn$;

      CREATE FUNCTION ${s}.take_claims_v4(p_project text, p_queue text, p_now bigint, p_claims uuid[],
          p_limits integer[], p_ttls bigint[], p_graces bigint[])
      RETURNS SETOF ${s}.messages LANGUAGE plpgsql
      SET enable_bitmapscan = off
      AS $fn$
      DECLARE
        v_queue ${s}.queues%ROWTYPE;
        v_want integer;
        v_asked integer;
        v_seen integer;
        v_free tid[];
        v_free_seqs bigint[];
        v_poison bigint[];
        v_taken tid[] := '{}';
        v_taken_seqs bigint[] := '{}';
        v_dlq_queue bigint;
        v_dlq_first bigint;
        v_moved integer := 0;
        v_report ${s}.messages%ROWTYPE;
      BEGIN
        SELECT * INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'PH404';
        END IF;
        SELECT coalesce(sum(l), 0)::integer INTO v_want FROM unnest(p_limits) l;
        LOOP
          v_asked := v_want;
          -- Rows this transaction locked in an earlier round are not skipped by SKIP LOCKED:
          -- leave out what is taken already.
          SELECT count(*),
                 coalesce(array_agg(t.ctid ORDER BY t.seq) FILTER (
                   WHERE v_queue.dlq_max_claims IS NULL OR t.claim_count < v_queue.dlq_max_claims), '{}'),
                 coalesce(array_agg(t.seq ORDER BY t.seq) FILTER (
                   WHERE v_queue.dlq_max_claims IS NULL OR t.claim_count < v_queue.dlq_max_claims), '{}'),
                 coalesce(array_agg(t.seq ORDER BY t.seq) FILTER (
                   WHERE t.claim_count >= v_queue.dlq_max_claims), '{}')
            INTO v_seen, v_free, v_free_seqs, v_poison
            FROM (SELECT m.ctid, m.seq, m.claim_count FROM ${s}.messages m
                   WHERE m.queue_id = v_queue.id AND m.expires_at > p_now AND m.visible_at <= p_now
                     AND (m.claim_id IS NULL OR m.claim_expires_at <= p_now)
                     AND (cardinality(v_taken_seqs) = 0 OR m.seq <> ALL (v_taken_seqs))
                   ORDER BY m.seq LIMIT v_asked
                   FOR UPDATE SKIP LOCKED) t;
          IF cardinality(v_poison) > 0 THEN
            SELECT r.o_queue, r.o_first INTO v_dlq_queue, v_dlq_first
              FROM ${s}.reserve_seqs(p_project, v_queue.dlq_queue, cardinality(v_poison), p_now) r;
            WITH moved AS (DELETE FROM ${s}.messages m WHERE m.queue_id = v_queue.id AND m.seq = ANY (v_poison)
                           RETURNING m.*)
            INSERT INTO ${s}.messages (queue_id, seq, id, ttl, created_at, expires_at, visible_at, claim_id,
                                       claim_expires_at, claim_count, client_id, checksum, body)
            SELECT v_dlq_queue, v_dlq_first + row_number() OVER (ORDER BY moved.seq) - 1, moved.id,
                   coalesce(v_queue.dlq_ttl, moved.ttl), moved.created_at,
                   CASE WHEN v_queue.dlq_ttl IS NULL THEN moved.expires_at ELSE p_now + v_queue.dlq_ttl * 1000 END,
                   moved.visible_at, NULL, 0, 0, moved.client_id, moved.checksum, moved.body
              FROM moved;
            v_moved := v_moved + cardinality(v_poison);
          END IF;
          v_taken := v_taken || v_free;
          v_taken_seqs := v_taken_seqs || v_free_seqs;
          v_want := v_want - cardinality(v_free);
          EXIT WHEN v_want = 0 OR cardinality(v_poison) = 0 OR v_seen < v_asked;
        END LOOP;
        IF v_moved > 0 THEN
          v_report.claim_count := v_moved;
          RETURN NEXT v_report;
        END IF;
        IF cardinality(v_taken) = 0 THEN RETURN; END IF;
        -- The rows stay locked by this transaction, so their ctids hold until it ends. A message
        -- that would die before its claim ends lives on to the claim's end plus grace.
        RETURN QUERY
          WITH c AS (
            SELECT k.claim, k.ttl, k.grace, p_now + k.ttl * 1000 AS claim_end,
                   sum(k.lim) OVER (ORDER BY k.n) - k.lim AS after, sum(k.lim) OVER (ORDER BY k.n) AS upto
              FROM unnest(p_claims, p_limits, p_ttls, p_graces) WITH ORDINALITY AS k(claim, lim, ttl, grace, n)),
          pick AS (
            SELECT u.tid, u.seq, c.claim, c.ttl, c.grace, c.claim_end
              FROM (SELECT x.tid, x.seq, row_number() OVER (ORDER BY x.seq) AS n
                      FROM unnest(v_taken, v_taken_seqs) AS x(tid, seq)) u
              JOIN c ON u.n > c.after AND u.n <= c.upto),
          held AS (
            UPDATE ${s}.messages m
               SET claim_id = pick.claim, claim_expires_at = pick.claim_end, claim_count = m.claim_count + 1,
                   ttl = CASE WHEN m.expires_at < pick.claim_end THEN pick.ttl + pick.grace ELSE m.ttl END,
                   expires_at = CASE WHEN m.expires_at < pick.claim_end
                                     THEN pick.claim_end + pick.grace * 1000 ELSE m.expires_at END
              FROM pick
             WHERE m.ctid = pick.tid
            RETURNING m.*),
          made AS (
            INSERT INTO ${s}.claims (id, queue_id, ttl, grace, updated_at, expires_at, seqs)
            SELECT pick.claim, v_queue.id, pick.ttl, pick.grace, p_now, pick.claim_end,
                   array_agg(pick.seq ORDER BY pick.seq)
              FROM pick GROUP BY pick.claim, pick.ttl, pick.grace, pick.claim_end)
          SELECT * FROM held;
      END $fn$;
    `,
};
