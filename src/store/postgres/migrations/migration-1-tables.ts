import type { Migration } from './migration.js';

export const migration1: Migration = {
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
};
