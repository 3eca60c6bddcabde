import type { Migration } from './migration.js';

export const migration5: Migration = {
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
};
