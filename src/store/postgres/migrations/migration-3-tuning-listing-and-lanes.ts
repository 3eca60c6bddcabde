import type { Migration } from './migration.js';

export const migration3: Migration = {
  version: 3,
  name: 'tuning of 1 and 2, a listing function, claims and deletes made together',
  sql: (s) => `
      -- Tuning of what migrations 1 and 2 made (they stay as released).
      -- A queue table churns: vacuum it early so claims walk few dead rows at a queue's head.
      ALTER TABLE ${s}.messages SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
      -- The claims table keeps only its primary key: every claim writes a row here, and only gc
      -- and deleting a queue look claims up by anything but id; they scan this table, which
      -- holds about one gc period of claims.
      ALTER TABLE ${s}.claims SET (autovacuum_vacuum_scale_factor = 0.02);
      DROP INDEX ${s}.claims_expiry;
      DROP INDEX ${s}.claims_queue;

      -- post_messages of migration 2, faster for a queue that exists.
      CREATE OR REPLACE FUNCTION ${s}.post_messages(p_project text, p_queue text, p_now bigint, p_ids uuid[],
          p_clients text[], p_created bigint[], p_expires bigint[], p_visible bigint[], p_ttls bigint[],
          p_checksums text[], p_lengths integer[], p_bodies bytea)
      RETURNS bigint LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
        v_first bigint;
      BEGIN
        -- reserve_seqs inlined for the common case of a queue that exists.
        UPDATE ${s}.queues SET next_seq = next_seq + cardinality(p_ids)
         WHERE project = p_project AND name = p_queue
         RETURNING id, next_seq - cardinality(p_ids) INTO v_queue, v_first;
        IF NOT FOUND THEN
          SELECT r.o_queue, r.o_first INTO v_queue, v_first
            FROM ${s}.reserve_seqs(p_project, p_queue, cardinality(p_ids), p_now) r;
        END IF;
        INSERT INTO ${s}.messages (queue_id, seq, id, ttl, created_at, expires_at, visible_at, client_id,
                                   checksum, body)
        SELECT v_queue, v_first + t.i - 1, t.id, t.ttl, t.created, t.expires, t.visible, t.client, t.checksum,
               substring(p_bodies FROM (t.stop - t.len + 1)::integer FOR t.len)
          FROM (SELECT u.*, sum(u.len) OVER (ORDER BY u.i) AS stop
                  FROM unnest(p_ids, p_clients, p_created, p_expires, p_visible, p_ttls, p_checksums, p_lengths)
                       WITH ORDINALITY AS u(id, client, created, expires, visible, ttl, checksum, len, i)) t;
        RETURN v_first;
      END $fn$;

      -- The free messages must be found by walking the primary key from the queue's head and
      -- stopping at the limit. A bitmap scan would read every row of the queue (and its dead
      -- ones) on each claim; the planner picks one when its estimates are off, so it may not.
      ALTER FUNCTION ${s}.take_messages(text, text, bigint, integer, uuid, bigint, bigint) SET enable_bitmapscan = off;

      -- A page of a queue's messages after a position. A function for the same reason as
      -- take_messages: the page must come from walking the primary key, whatever the estimates.
      CREATE FUNCTION ${s}.list_messages(p_project text, p_queue text, p_after bigint, p_now bigint,
          p_include_claimed boolean, p_include_delayed boolean, p_hide_client text, p_limit integer)
      RETURNS SETOF ${s}.messages LANGUAGE plpgsql STABLE
      SET enable_bitmapscan = off
      AS $fn$
      DECLARE
        v_queue bigint;
      BEGIN
        SELECT id INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'PH404';
        END IF;
        RETURN QUERY
          SELECT * FROM ${s}.messages m
           WHERE m.queue_id = v_queue AND m.seq > p_after AND m.expires_at > p_now
             AND (p_include_claimed OR m.claim_id IS NULL OR m.claim_expires_at <= p_now)
             AND (p_include_delayed OR m.visible_at <= p_now)
             AND (p_hide_client IS NULL OR m.client_id <> p_hide_client)
           ORDER BY m.seq
           LIMIT p_limit;
      END $fn$;

      -- Several claims of one queue at once (the driver's claim lane): up to the sum of their
      -- limits of the oldest free, visible messages, handed out in position order, the first
      -- p_limits[1] to the first claim and so on. Each claim has its own id, ttl and grace; a
      -- claim that gets nothing leaves no row. Rows another transaction holds are skipped;
      -- poison moves to the dead-letter queue on the way, as in take_messages.
      --
      -- The rows are found by one walk of the primary key from the queue's head and then
      -- updated through the physical positions (ctid) that walk locked: no index descent per
      -- message, which costs more than everything else a claim does.
      -- Half of each new page is left free: a claim rewrites every row it takes, and a new
      -- version that fits on its page is a HOT update (no new index entries, one small WAL
      -- record), where one that does not fit adds an entry to every index. At 85 only a few of a
      -- page's rows could be claimed that way. Pages written before keep their fill.
      ALTER TABLE ${s}.messages SET (fillfactor = 50);

      CREATE FUNCTION ${s}.take_claims(p_project text, p_queue text, p_now bigint, p_claims uuid[],
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
          END IF;
          v_taken := v_taken || v_free;
          v_taken_seqs := v_taken_seqs || v_free_seqs;
          v_want := v_want - cardinality(v_free);
          EXIT WHEN v_want = 0 OR cardinality(v_poison) = 0 OR v_seen < v_asked;
        END LOOP;
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

      -- Deletes made together with claim ids (the delete lane): each (id, claim) pair deletes the
      -- message when that live claim holds it. The positions the claims took bound one range scan
      -- of the primary key (a consumer deletes what it claimed: neighbours at the queue's head),
      -- which costs far less than one descent of the id index per message; claims whose
      -- positions lie far apart use the id index instead. Returns how many went.
      CREATE FUNCTION ${s}.delete_claimed(p_project text, p_queue text, p_ids uuid[], p_claims uuid[],
          p_now bigint)
      RETURNS integer LANGUAGE plpgsql
      -- The pairs are matched through a hash of them, never by rescanning them for every row.
      SET enable_bitmapscan = off
      SET enable_nestloop = off
      AS $fn$
      DECLARE
        v_queue bigint;
        v_lo bigint;
        v_hi bigint;
        v_held integer;
        v_count integer;
      BEGIN
        SELECT id INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN RETURN 0; END IF;
        SELECT min(h.seq), max(h.seq), count(*) INTO v_lo, v_hi, v_held
          FROM (SELECT unnest(c.seqs) AS seq FROM ${s}.claims c
                 WHERE c.id = ANY (p_claims) AND c.queue_id = v_queue AND c.expires_at > p_now) h;
        IF v_held = 0 THEN RETURN 0; END IF;
        IF v_hi - v_lo < 4 * v_held + 256 THEN
          DELETE FROM ${s}.messages m
           WHERE m.queue_id = v_queue AND m.seq BETWEEN v_lo AND v_hi AND m.claim_expires_at > p_now
             AND (m.id, m.claim_id) IN (SELECT d.id, d.claim FROM unnest(p_ids, p_claims) AS d(id, claim));
        ELSE
          DELETE FROM ${s}.messages m
           WHERE m.id = ANY (p_ids) AND m.queue_id + 0 = v_queue AND m.claim_expires_at > p_now
             AND (m.id, m.claim_id) IN (SELECT d.id, d.claim FROM unnest(p_ids, p_claims) AS d(id, claim));
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count;
      END $fn$;
    `,
};
