/**
 * The schema, as an ordered list of migrations. A migration is never edited once released: a
 * change to the schema is a new migration at the end of the list, so every database, however
 * old, reaches the same schema by running the ones it lacks (see migrate.ts).
 *
 * Every function takes the schema name already quoted (`"posthorn"`).
 *
 * Times are bigint milliseconds handed in by the driver from its Clock — the database's own
 * now() is never used, so every server agrees with its tests' fake clock, and a claim's expiry
 * is computed by the same code in every driver.
 */
export interface Migration {
  version: number;
  name: string;
  sql(schema: string): string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'queues, messages, claims and subscriptions',
    sql: (s) => `
      CREATE TABLE ${s}.queues (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project text NOT NULL,
        name text COLLATE "C" NOT NULL,
        -- json, not jsonb: kept as written (key order, \\u0000 escapes) and handed back as is.
        metadata json NOT NULL,
        -- The dead-letter policy, derived from the metadata by the driver (contract/semantics.ts)
        -- so claims need not parse JSON.
        dlq_max_claims integer,
        dlq_queue text,
        dlq_ttl bigint,
        -- The next message's position. Posts take it with UPDATE ... RETURNING, so posts to one
        -- queue hold this row until they commit and commit in position order.
        next_seq bigint NOT NULL DEFAULT 1,
        created_at bigint NOT NULL,
        CONSTRAINT queues_name UNIQUE (project, name)
      );

      CREATE TABLE ${s}.messages (
        queue_id bigint NOT NULL,
        seq bigint NOT NULL,
        id uuid NOT NULL,
        ttl bigint NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        visible_at bigint NOT NULL,
        claim_id uuid,
        claim_expires_at bigint NOT NULL DEFAULT 0,
        claim_count integer NOT NULL DEFAULT 0,
        client_id text NOT NULL,
        checksum text,
        body bytea NOT NULL,
        PRIMARY KEY (queue_id, seq)
      ) WITH (fillfactor = 85); -- room on each page for the claim's update to stay HOT
      CREATE UNIQUE INDEX messages_id ON ${s}.messages (id);
      CREATE INDEX messages_expiry ON ${s}.messages (expires_at);

      CREATE TABLE ${s}.claims (
        id uuid PRIMARY KEY,
        queue_id bigint NOT NULL,
        ttl bigint NOT NULL,
        grace bigint NOT NULL,
        updated_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        -- The positions it took: its messages are found through the primary key, so the
        -- messages table needs no index on claim_id and a claim's update of a message stays HOT.
        seqs bigint[] NOT NULL
      );
      CREATE INDEX claims_expiry ON ${s}.claims (expires_at);
      CREATE INDEX claims_queue ON ${s}.claims (queue_id);

      CREATE TABLE ${s}.subscriptions (
        id uuid PRIMARY KEY,
        queue_id bigint NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        subscriber text NOT NULL,
        ttl bigint NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        options json NOT NULL,
        confirmed boolean NOT NULL DEFAULT false
      );
      -- One per (queue, subscriber). Hashed: a subscriber URI may be longer than a btree entry.
      CREATE UNIQUE INDEX subscriptions_subscriber ON ${s}.subscriptions (queue_id, md5(subscriber));
      CREATE INDEX subscriptions_listing ON ${s}.subscriptions (queue_id, seq);
      CREATE INDEX subscriptions_expiry ON ${s}.subscriptions (expires_at);
    `,
  },
  {
    version: 2,
    name: 'functions for posting, claiming, popping and deleting queues in one round trip',
    sql: (s) => `
      -- Takes n positions of a queue, creating the queue when missing. The UPDATE keeps the
      -- queue's row locked until the calling transaction ends, which is what makes posts (and
      -- dead-letter moves) to one queue commit in the order of their positions.
      CREATE FUNCTION ${s}.reserve_seqs(p_project text, p_queue text, p_count bigint, p_now bigint,
                                        OUT o_queue bigint, OUT o_first bigint)
      LANGUAGE plpgsql AS $fn$
      BEGIN
        LOOP
          UPDATE ${s}.queues SET next_seq = next_seq + p_count
           WHERE project = p_project AND name = p_queue
           RETURNING id, next_seq - p_count INTO o_queue, o_first;
          IF FOUND THEN RETURN; END IF;
          INSERT INTO ${s}.queues (project, name, metadata, created_at)
          VALUES (p_project, p_queue, '{}', p_now)
          ON CONFLICT ON CONSTRAINT queues_name DO NOTHING;
        END LOOP;
      END $fn$;

      -- Appends a batch of messages; bodies come concatenated in one bytea with their lengths.
      CREATE FUNCTION ${s}.post_messages(p_project text, p_queue text, p_now bigint, p_ids uuid[],
          p_clients text[], p_created bigint[], p_expires bigint[], p_visible bigint[], p_ttls bigint[],
          p_checksums text[], p_lengths integer[], p_bodies bytea)
      RETURNS bigint LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
        v_first bigint;
      BEGIN
        SELECT r.o_queue, r.o_first INTO v_queue, v_first
          FROM ${s}.reserve_seqs(p_project, p_queue, cardinality(p_ids), p_now) r;
        INSERT INTO ${s}.messages (queue_id, seq, id, ttl, created_at, expires_at, visible_at, client_id,
                                   checksum, body)
        SELECT v_queue, v_first + t.i - 1, t.id, t.ttl, t.created, t.expires, t.visible, t.client, t.checksum,
               substring(p_bodies FROM (t.stop - t.len + 1)::integer FOR t.len)
          FROM (SELECT u.*, sum(u.len) OVER (ORDER BY u.i) AS stop
                  FROM unnest(p_ids, p_clients, p_created, p_expires, p_visible, p_ttls, p_checksums, p_lengths)
                       WITH ORDINALITY AS u(id, client, created, expires, visible, ttl, checksum, len, i)) t;
        RETURN v_first;
      END $fn$;

      -- Takes up to p_limit of the oldest free, visible messages: claims them when p_claim is
      -- given, deletes them (a pop) when it is null. Rows another transaction holds are skipped,
      -- never waited for. A message claimed _max_claim_count times already moves to the dead-
      -- letter queue on the way, in this same transaction, and another is taken in its place.
      CREATE FUNCTION ${s}.take_messages(p_project text, p_queue text, p_now bigint, p_limit integer,
          p_claim uuid, p_claim_ttl bigint, p_claim_grace bigint)
      RETURNS SETOF ${s}.messages LANGUAGE plpgsql AS $fn$
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
      END $fn$;

      -- Deletes a queue and everything in it. Each statement of a plpgsql function reads a new
      -- snapshot, so a post that held the queue's row just before us is seen, and deleted, too.
      CREATE FUNCTION ${s}.delete_queue(p_project text, p_queue text)
      RETURNS boolean LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
      BEGIN
        DELETE FROM ${s}.queues WHERE project = p_project AND name = p_queue RETURNING id INTO v_queue;
        IF NOT FOUND THEN RETURN false; END IF;
        DELETE FROM ${s}.messages WHERE queue_id = v_queue;
        DELETE FROM ${s}.claims WHERE queue_id = v_queue;
        DELETE FROM ${s}.subscriptions WHERE queue_id = v_queue;
        RETURN true;
      END $fn$;

      -- Subscribes, unless the subscriber has a live subscription already (its id is returned).
      -- An expired one of the same subscriber is dropped first, so it may subscribe anew.
      CREATE FUNCTION ${s}.create_subscription(p_project text, p_queue text, p_now bigint, p_id uuid,
          p_subscriber text, p_ttl bigint, p_expires bigint, p_options json,
          OUT o_id uuid, OUT o_created boolean)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
      BEGIN
        SELECT id INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'queue % does not exist', p_queue USING ERRCODE = 'PH404';
        END IF;
        LOOP
          DELETE FROM ${s}.subscriptions
           WHERE queue_id = v_queue AND md5(subscriber) = md5(p_subscriber) AND subscriber = p_subscriber
             AND expires_at <= p_now;
          INSERT INTO ${s}.subscriptions (id, queue_id, subscriber, ttl, created_at, expires_at, options)
          VALUES (p_id, v_queue, p_subscriber, p_ttl, p_now, p_expires, p_options)
          ON CONFLICT (queue_id, md5(subscriber)) DO NOTHING
          RETURNING id INTO o_id;
          IF FOUND THEN o_created := true; RETURN; END IF;
          SELECT id INTO o_id FROM ${s}.subscriptions
           WHERE queue_id = v_queue AND md5(subscriber) = md5(p_subscriber) AND expires_at > p_now;
          IF FOUND THEN o_created := false; RETURN; END IF;
        END LOOP;
      END $fn$;

      -- Changes a live subscription. o_status: 0 done, 1 no such queue, 2 no such subscription,
      -- 3 another live subscription has the new subscriber (o_other is its id).
      CREATE FUNCTION ${s}.update_subscription(p_project text, p_queue text, p_id uuid, p_now bigint,
          p_subscriber text, p_ttl bigint, p_expires bigint, p_options json,
          OUT o_status integer, OUT o_other uuid)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
        v_current text;
      BEGIN
        SELECT id INTO v_queue FROM ${s}.queues WHERE project = p_project AND name = p_queue;
        IF NOT FOUND THEN o_status := 1; RETURN; END IF;
        SELECT subscriber INTO v_current FROM ${s}.subscriptions
         WHERE id = p_id AND queue_id = v_queue AND expires_at > p_now FOR UPDATE;
        IF NOT FOUND THEN o_status := 2; RETURN; END IF;
        IF p_subscriber IS NOT NULL AND p_subscriber <> v_current THEN
          SELECT id INTO o_other FROM ${s}.subscriptions
           WHERE queue_id = v_queue AND md5(subscriber) = md5(p_subscriber) AND expires_at > p_now;
          IF FOUND THEN o_status := 3; RETURN; END IF;
          DELETE FROM ${s}.subscriptions
           WHERE queue_id = v_queue AND md5(subscriber) = md5(p_subscriber) AND expires_at <= p_now;
        END IF;
        BEGIN
          UPDATE ${s}.subscriptions
             SET subscriber = coalesce(p_subscriber, subscriber), ttl = coalesce(p_ttl, ttl),
                 expires_at = coalesce(p_expires, expires_at), options = coalesce(p_options, options)
           WHERE id = p_id;
        EXCEPTION WHEN unique_violation THEN
          -- Another transaction gave the subscriber a subscription between our check and now.
          SELECT id INTO o_other FROM ${s}.subscriptions
           WHERE queue_id = v_queue AND md5(subscriber) = md5(p_subscriber);
          o_status := 3;
          RETURN;
        END;
        o_status := 0;
      END $fn$;
    `,
  },
  {
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
  },
  {
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
  },
  {
    version: 5,
    name: 'idempotency keys of posts',
    sql: (s) => `
      -- A post's idempotency key, written in the post's own transaction: the messages and the
      -- key commit together or not at all. Forgotten (by gc) once expires_at has passed.
      CREATE TABLE ${s}.idempotency_keys (
        queue_id bigint NOT NULL,
        key text COLLATE "C" NOT NULL,
        fingerprint text NOT NULL,
        ids uuid[] NOT NULL,
        expires_at bigint NOT NULL,
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (queue_id, key)
      );
      CREATE INDEX idempotency_keys_expiry ON ${s}.idempotency_keys (expires_at);

      -- delete_queue of migration 2, which also forgets the queue's keys.
      CREATE OR REPLACE FUNCTION ${s}.delete_queue(p_project text, p_queue text)
      RETURNS boolean LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
      BEGIN
        DELETE FROM ${s}.queues WHERE project = p_project AND name = p_queue RETURNING id INTO v_queue;
        IF NOT FOUND THEN RETURN false; END IF;
        DELETE FROM ${s}.messages WHERE queue_id = v_queue;
        DELETE FROM ${s}.claims WHERE queue_id = v_queue;
        DELETE FROM ${s}.subscriptions WHERE queue_id = v_queue;
        DELETE FROM ${s}.idempotency_keys WHERE queue_id = v_queue;
        RETURN true;
      END $fn$;

      -- Posts with idempotency keys, several at once (the driver's keyed post lane), in one
      -- transaction and one commit. The queue's row is locked first (made when missing), so a
      -- repeat racing a first post in another transaction waits here until that one commits, and
      -- then finds its key: never two posts. Post k has the next p_counts[k] messages of the
      -- arrays and the next bodies; each is looked up by its key (keys written earlier in this same
      -- call included) and answers one row: o_status 0 posted (o_ids its new ids), 1 a repeat that
      -- stored nothing (o_ids the first post's), 2 a key bound to other messages (stored nothing).
      -- The window is the queue's _idempotency_window when it is a whole number in 1..p_max_window,
      -- else p_default_window (contract/semantics.ts).
      CREATE FUNCTION ${s}.post_messages_keyed(p_project text, p_queue text, p_now bigint, p_ids uuid[],
          p_clients text[], p_created bigint[], p_expires bigint[], p_visible bigint[], p_ttls bigint[],
          p_checksums text[], p_lengths integer[], p_bodies bytea, p_counts integer[], p_keys text[],
          p_fingerprints text[], p_default_window bigint, p_max_window bigint)
      RETURNS TABLE (o_post integer, o_status integer, o_ids text[]) LANGUAGE plpgsql AS $fn$
      DECLARE
        v_queue bigint;
        v_meta json;
        v_window bigint := p_default_window;
        v_asked numeric;
        v_from integer := 1;
        v_to integer;
        v_byte integer := 1;
        v_bytes integer;
        v_fingerprint text;
        v_known uuid[];
      BEGIN
        LOOP
          SELECT id, metadata INTO v_queue, v_meta FROM ${s}.queues
           WHERE project = p_project AND name = p_queue FOR UPDATE;
          EXIT WHEN FOUND;
          INSERT INTO ${s}.queues (project, name, metadata, created_at)
          VALUES (p_project, p_queue, '{}', p_now)
          ON CONFLICT ON CONSTRAINT queues_name DO NOTHING;
        END LOOP;
        IF json_typeof(v_meta -> '_idempotency_window') = 'number' THEN
          v_asked := (v_meta ->> '_idempotency_window')::numeric;
          IF v_asked = trunc(v_asked) AND v_asked >= 1 AND v_asked <= p_max_window THEN
            v_window := v_asked::bigint;
          END IF;
        END IF;
        FOR k IN 1 .. cardinality(p_counts) LOOP
          v_to := v_from + p_counts[k] - 1;
          SELECT coalesce(sum(l), 0) INTO v_bytes FROM unnest(p_lengths[v_from:v_to]) l;
          o_post := k;
          SELECT i.fingerprint, i.ids INTO v_fingerprint, v_known FROM ${s}.idempotency_keys i
           WHERE i.queue_id = v_queue AND i.key = p_keys[k] AND i.expires_at > p_now;
          IF FOUND THEN
            o_status := CASE WHEN v_fingerprint = p_fingerprints[k] THEN 1 ELSE 2 END;
            o_ids := v_known::text[];
          ELSE
            PERFORM ${s}.post_messages(p_project, p_queue, p_now, p_ids[v_from:v_to], p_clients[v_from:v_to],
                p_created[v_from:v_to], p_expires[v_from:v_to], p_visible[v_from:v_to], p_ttls[v_from:v_to],
                p_checksums[v_from:v_to], p_lengths[v_from:v_to], substring(p_bodies FROM v_byte FOR v_bytes));
            INSERT INTO ${s}.idempotency_keys (queue_id, key, fingerprint, ids, expires_at)
            VALUES (v_queue, p_keys[k], p_fingerprints[k], p_ids[v_from:v_to], p_now + v_window * 1000)
            ON CONFLICT ON CONSTRAINT idempotency_keys_pkey
              DO UPDATE SET fingerprint = EXCLUDED.fingerprint, ids = EXCLUDED.ids, expires_at = EXCLUDED.expires_at;
            o_status := 0;
            o_ids := p_ids[v_from:v_to]::text[];
          END IF;
          RETURN NEXT;
          v_from := v_to + 1;
          v_byte := v_byte + v_bytes;
        END LOOP;
      END $fn$;
    `,
  },
  {
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
  },
];

/** The schema version this code writes and reads. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
