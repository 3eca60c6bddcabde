import type { Migration } from './migration.js';

export const migration2: Migration = {
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
};
