import { MESSAGE_COLUMNS, SUBSCRIPTION_COLUMNS } from './rows.js';

/**
 * Every statement the engine sends, for one schema. Each is sent as a named prepared statement
 * (parsed and planned once per connection) and does its work in one round trip; the ones that
 * need several steps call functions of the migrations, each as its latest migration defines it:
 * create_subscription and update_subscription (2), post_messages and list_messages (3),
 * take_messages_v4 and take_claims_v4 (4), delete_queue and post_messages_keyed (5),
 * delete_claimed_ids (6), delete_and_take (8); migration 7 sets how the claim, pop and delete
 * functions are planned.
 *
 * Parameters that may be absent are typed explicitly (`$3::uuid`) so one plan serves all calls.
 *
 * Statements that find messages by id compare `m.queue_id + 0`, which no index can serve: the
 * id index finds the few rows, and the planner is never tempted, by statistics that lag behind a
 * fast-growing queue, to combine it with a scan of the whole queue through the primary key.
 */
export function buildStatements(s: string) {
  const queueOf = `SELECT id FROM ${s}.queues WHERE project = $1 AND name = $2`;
  return {
    createQueue: `
      INSERT INTO ${s}.queues (project, name, metadata, dlq_max_claims, dlq_queue, dlq_ttl, created_at)
      VALUES ($1, $2, $3::json, $4, $5, $6, $7)
      ON CONFLICT ON CONSTRAINT queues_name DO NOTHING
      RETURNING id`,
    queueExists: queueOf,
    getQueueMetadata: `SELECT metadata FROM ${s}.queues WHERE project = $1 AND name = $2`,
    setQueueMetadata: `
      UPDATE ${s}.queues SET metadata = $3::json, dlq_max_claims = $4, dlq_queue = $5, dlq_ttl = $6
       WHERE project = $1 AND name = $2`,
    deleteQueue: `SELECT ${s}.delete_queue($1, $2)`,
    listQueues: `
      SELECT name, CASE WHEN $5::boolean THEN metadata END AS metadata
        FROM ${s}.queues
       WHERE project = $1 AND ($2::text IS NULL OR name > $2) AND ($3::text IS NULL OR strpos(name, $3) > 0)
       ORDER BY name
       LIMIT $4`,
    countQueues: `
      SELECT count(*) AS count FROM ${s}.queues
       WHERE project = $1 AND ($2::text IS NULL OR strpos(name, $2) > 0)`,
    queueStats: `
      WITH q AS (${queueOf})
      SELECT a.total, a.claimed, a.delayed, o.id AS oldest_id, o.created_at AS oldest_created,
             n.id AS newest_id, n.created_at AS newest_created
        FROM q
        CROSS JOIN LATERAL (
          SELECT count(*) AS total,
                 count(*) FILTER (WHERE m.claim_id IS NOT NULL AND m.claim_expires_at > $3) AS claimed,
                 count(*) FILTER (WHERE (m.claim_id IS NULL OR m.claim_expires_at <= $3) AND m.visible_at > $3)
                   AS delayed
            FROM ${s}.messages m WHERE m.queue_id = q.id AND m.expires_at > $3) a
        LEFT JOIN LATERAL (
          SELECT m.id, m.created_at FROM ${s}.messages m
           WHERE m.queue_id = q.id AND m.expires_at > $3 ORDER BY m.seq LIMIT 1) o ON true
        LEFT JOIN LATERAL (
          SELECT m.id, m.created_at FROM ${s}.messages m
           WHERE m.queue_id = q.id AND m.expires_at > $3 ORDER BY m.seq DESC LIMIT 1) n ON true`,

    postMessages: `SELECT ${s}.post_messages($1, $2, $3, $4::uuid[], $5::text[], $6::bigint[], $7::bigint[],
                                               $8::bigint[], $9::bigint[], $10::text[], $11::integer[], $12::bytea)`,
    postMessagesKeyed: `
      SELECT o_post, o_status, o_ids
        FROM ${s}.post_messages_keyed($1, $2, $3, $4::uuid[], $5::text[], $6::bigint[], $7::bigint[],
               $8::bigint[], $9::bigint[], $10::text[], $11::integer[], $12::bytea, $13::integer[], $14::text[],
               $15::text[], $16, $17)
       ORDER BY o_post`,
    listMessages: `
      SELECT ${MESSAGE_COLUMNS}
        FROM ${s}.list_messages($1, $2, $3, $4, $5::boolean, $6::boolean, $7::text, $8) m
       ORDER BY m.seq`,
    firstMessage: `
      WITH q AS (${queueOf})
      SELECT q.id AS queue_id, ${MESSAGE_COLUMNS}
        FROM q LEFT JOIN LATERAL (
          SELECT * FROM ${s}.messages m WHERE m.queue_id = q.id AND m.expires_at > $3
           ORDER BY m.seq LIMIT 1) m ON true`,
    lastMessage: `
      WITH q AS (${queueOf})
      SELECT q.id AS queue_id, ${MESSAGE_COLUMNS}
        FROM q LEFT JOIN LATERAL (
          SELECT * FROM ${s}.messages m WHERE m.queue_id = q.id AND m.expires_at > $3
           ORDER BY m.seq DESC LIMIT 1) m ON true`,
    getMessages: `
      SELECT ${MESSAGE_COLUMNS}
        FROM ${s}.messages m JOIN ${s}.queues q ON q.id = m.queue_id + 0
       WHERE q.project = $1 AND q.name = $2 AND m.id = ANY ($3::uuid[]) AND m.expires_at > $4`,
    // Single deletes made together (the delete lane of deleteMessage): locks each message named,
    // deletes it when the claim rules allow, and reports what it found so a refusal can name its
    // reason. $3 ids, $4 whether a claim id was given, $5 that claim id (null when it cannot
    // exist). One row per message found: its call's position in $3, whether it was claimed,
    // whether it went.
    deleteMessagesOneByOne: `
      WITH q AS (${queueOf}),
      d AS (SELECT * FROM unnest($3::uuid[], $4::boolean[], $5::uuid[]) WITH ORDINALITY AS d(id, with_claim, claim, n)),
      found AS (
        SELECT d.n, m.queue_id, m.seq, m.claim_id, d.with_claim, d.claim AS wanted,
               (m.claim_id IS NOT NULL AND m.claim_expires_at > $6) AS claimed
          FROM d JOIN ${s}.messages m ON m.id = d.id JOIN q ON m.queue_id + 0 = q.id
         WHERE m.expires_at > $6
           FOR UPDATE OF m),
      gone AS (
        DELETE FROM ${s}.messages x USING found
         WHERE x.queue_id = found.queue_id AND x.seq = found.seq
           AND CASE WHEN found.with_claim THEN found.claimed AND found.claim_id = found.wanted ELSE NOT found.claimed END
        RETURNING x.seq)
      SELECT found.n::integer AS n, found.claimed, found.seq IN (SELECT gone.seq FROM gone) AS deleted FROM found`,
    bulkDeleteMessages: `
      DELETE FROM ${s}.messages m USING ${s}.queues q
       WHERE q.project = $1 AND q.name = $2 AND m.queue_id + 0 = q.id AND m.id = ANY ($3::uuid[])
         AND ($4::uuid[] IS NULL OR (m.claim_id = ANY ($4::uuid[]) AND m.claim_expires_at > $5))
         AND m.expires_at > $5
      RETURNING m.id`,
    // When the take functions of migration 4 dead-lettered messages, one of their rows has a null
    // id and says in its claim_count how many.
    takeMessages: `
      SELECT ${MESSAGE_COLUMNS}
        FROM ${s}.take_messages_v4($1, $2, $3, $4, $5::uuid, $6::bigint, $7::bigint) m`,
    // Deletes with claim ids and claims of one queue at once (the consume lane, migration 8): $4
    // ids and $5 the claim each must be held by (delete_claimed_ids); $6 claim ids, $7 limits,
    // $8 ttls, $9 graces (take_claims_v4). Rows with seq 0 are the (id, claim) pairs deleted; the
    // others are the claimed messages and, as for takeMessages, the dead-letter count.
    deleteAndTake: `
      SELECT ${MESSAGE_COLUMNS}
        FROM ${s}.delete_and_take($1, $2, $3, $4::uuid[], $5::uuid[], $6::uuid[], $7::integer[], $8::bigint[],
               $9::bigint[]) m`,

    // Rows: none when the queue does not exist; one with claim_id null when the claim does not
    // (or has expired); else one per message still held (or one with message columns null).
    getClaim: `
      SELECT c.id AS c_id, c.ttl AS c_ttl, c.grace AS c_grace, c.updated_at AS c_updated, c.expires_at AS c_expires,
             ${MESSAGE_COLUMNS}
        FROM ${s}.queues q
        LEFT JOIN ${s}.claims c ON c.queue_id = q.id AND c.id = $3::uuid AND c.expires_at > $4
        LEFT JOIN LATERAL (
          SELECT * FROM ${s}.messages m
           WHERE m.queue_id = c.queue_id AND m.seq = ANY (c.seqs) AND m.claim_id = c.id AND m.expires_at > $4
        ) m ON true
       WHERE q.project = $1 AND q.name = $2
       ORDER BY m.seq`,
    // $4 ttl, $5 grace, $6 now, $7 the claim's new end.
    updateClaim: `
      WITH q AS (${queueOf}),
      c AS (
        UPDATE ${s}.claims c SET ttl = $4::bigint, grace = $5::bigint, updated_at = $6::bigint, expires_at = $7::bigint
          FROM q WHERE c.queue_id = q.id AND c.id = $3::uuid AND c.expires_at > $6::bigint
        RETURNING c.queue_id, c.seqs),
      held AS (
        UPDATE ${s}.messages m
           SET claim_expires_at = $7::bigint,
               ttl = CASE WHEN m.expires_at < $7::bigint THEN $4::bigint + $5::bigint ELSE m.ttl END,
               expires_at = CASE WHEN m.expires_at < $7::bigint THEN $7::bigint + $5::bigint * 1000 ELSE m.expires_at END
          FROM c
         WHERE m.queue_id = c.queue_id AND m.seq = ANY (c.seqs) AND m.claim_id = $3::uuid AND m.expires_at > $6::bigint
        RETURNING 1)
      SELECT (SELECT count(*) FROM q) AS queues, (SELECT count(*) FROM c) AS claims, (SELECT count(*) FROM held) AS held`,
    deleteClaim: `
      WITH c AS (
        DELETE FROM ${s}.claims c USING ${s}.queues q
         WHERE q.project = $1 AND q.name = $2 AND c.queue_id = q.id AND c.id = $3::uuid
        RETURNING c.queue_id, c.seqs)
      UPDATE ${s}.messages m SET claim_id = NULL, claim_expires_at = 0
        FROM c WHERE m.queue_id = c.queue_id AND m.seq = ANY (c.seqs) AND m.claim_id = $3::uuid`,

    createSubscription: `
      SELECT o_id, o_created FROM ${s}.create_subscription($1, $2, $3, $4::uuid, $5, $6, $7, $8::json)`,
    // Rows: none when the queue does not exist; otherwise one per subscription (or one of nulls).
    listSubscriptions: `
      WITH q AS (${queueOf})
      SELECT q.id AS queue_id, s.seq, ${SUBSCRIPTION_COLUMNS}
        FROM q LEFT JOIN LATERAL (
          SELECT * FROM ${s}.subscriptions s
           WHERE s.queue_id = q.id AND s.seq > $3 AND s.expires_at > $4
           ORDER BY s.seq LIMIT $5) s ON true
       ORDER BY s.seq`,
    getSubscription: `
      WITH q AS (${queueOf})
      SELECT q.id AS queue_id, ${SUBSCRIPTION_COLUMNS}
        FROM q LEFT JOIN ${s}.subscriptions s ON s.queue_id = q.id AND s.id = $3::uuid AND s.expires_at > $4`,
    getSubscriptionBySubscriber: `
      WITH q AS (${queueOf})
      SELECT q.id AS queue_id, ${SUBSCRIPTION_COLUMNS}
        FROM q LEFT JOIN ${s}.subscriptions s
          ON s.queue_id = q.id AND md5(s.subscriber) = md5($3) AND s.subscriber = $3 AND s.expires_at > $4`,
    updateSubscription: `
      SELECT o_status, o_other FROM ${s}.update_subscription($1, $2, $3::uuid, $4, $5, $6, $7, $8::json)`,
    deleteSubscription: `
      DELETE FROM ${s}.subscriptions s USING ${s}.queues q
       WHERE q.project = $1 AND q.name = $2 AND s.queue_id = q.id AND s.id = $3::uuid`,
    confirmSubscription: `
      WITH q AS (${queueOf}),
      done AS (
        UPDATE ${s}.subscriptions s SET confirmed = $5
          FROM q WHERE s.queue_id = q.id AND s.id = $3::uuid AND s.expires_at > $4
        RETURNING 1)
      SELECT (SELECT count(*) FROM q) AS queues, (SELECT count(*) FROM done) AS subscriptions`,

    // Expired messages go in slices (found through their expiry index) so a large backlog
    // never makes one huge transaction; claims and subscriptions are small rows, taken in one pass.
    // A slice answers how many went from each queue (for the metrics); a queue deleted meanwhile
    // has no name any more and is counted without one.
    gcMessages: `
      WITH gone AS (
        DELETE FROM ${s}.messages
         WHERE (queue_id, seq) IN (SELECT queue_id, seq FROM ${s}.messages WHERE expires_at <= $1 LIMIT $2)
        RETURNING queue_id)
      SELECT q.project, q.name, g.count::integer AS count
        FROM (SELECT queue_id, count(*) AS count FROM gone GROUP BY queue_id) g
        LEFT JOIN ${s}.queues q ON q.id = g.queue_id`,
    gcClaims: `DELETE FROM ${s}.claims WHERE expires_at <= $1`,
    gcSubscriptions: `DELETE FROM ${s}.subscriptions WHERE expires_at <= $1`,
    gcIdempotencyKeys: `DELETE FROM ${s}.idempotency_keys WHERE expires_at <= $1`,
    alive: 'SELECT 1',
  };
}

export type Statements = ReturnType<typeof buildStatements>;
