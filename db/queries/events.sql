-- name: EventInsertBatch :many
-- EventInsertBatch stores the events not stored before and returns their
-- ids; an event already stored is left as it is and not returned, unless it
-- was stored unapplied (EventInsertUnapplied): then it is stored afresh and
-- returned, to be applied now. An empty account or api_version is stored as
-- NULL. The key is (id, created): an event's created never changes, so a
-- copy of an event meets its row in the month partition both belong to
-- (see schema 0014). The data are the events' bytes as received (json, see
-- schema 0015); an empty object type or id is stored as NULL.
INSERT INTO stripe.events (id, type, account, livemode, api_version, created, data, object_type, object_id)
SELECT u.id, u.type, NULLIF(u.account, ''), u.livemode, NULLIF(u.api_version, ''), u.created, u.data,
    NULLIF(u.object_type, ''), NULLIF(u.object_id, '')
FROM (
    -- Set-returning functions side by side in a select list advance together.
    -- The events are the last parameter: see db.RegisterTypes.
    SELECT
        unnest(@ids::text[]) AS id,
        unnest(@types::text[]) AS type,
        unnest(@accounts::text[]) AS account,
        unnest(@livemodes::boolean[]) AS livemode,
        unnest(@api_versions::text[]) AS api_version,
        unnest(@createds::timestamptz[]) AS created,
        unnest(@object_types::text[]) AS object_type,
        unnest(@object_ids::text[]) AS object_id,
        unnest(@datas::json[]) AS data
) AS u
ON CONFLICT (id, created) DO UPDATE SET
    type = EXCLUDED.type, account = EXCLUDED.account, livemode = EXCLUDED.livemode,
    api_version = EXCLUDED.api_version, data = EXCLUDED.data,
    object_type = EXCLUDED.object_type, object_id = EXCLUDED.object_id,
    unapplied = NULL
    WHERE stripe.events.unapplied IS NOT NULL
RETURNING id;

-- name: EventInsertUnapplied :exec
-- EventInsertUnapplied stores an event whose object could not be applied,
-- with the reason; an event already stored is left as it is.
INSERT INTO stripe.events (id, type, account, livemode, api_version, created, data, object_type, object_id, unapplied)
VALUES (@id, @type, NULLIF(@account::text, ''), @livemode, NULLIF(@api_version::text, ''), @created, @data,
    NULLIF(@object_type::text, ''), NULLIF(@object_id::text, ''), @unapplied::text)
ON CONFLICT (id, created) DO NOTHING;

-- name: DeadLetterInsert :exec
INSERT INTO stripe.dead_letters (subject, stream_seq, event_id, num_delivered, reason, payload, headers)
VALUES (@subject, @stream_seq, NULLIF(@event_id::text, ''), @num_delivered, @reason, @payload, @headers);

-- name: DeadLetterList :many
-- DeadLetterList returns the dead letters not replayed yet, oldest first:
-- all of them, or those whose reason contains @reason_like, or those with
-- the ids given.
SELECT id, subject, stream_seq, coalesce(event_id, '')::text AS event_id, num_delivered, reason, payload, headers, created_at
FROM stripe.dead_letters
WHERE replayed_at IS NULL
    AND (@reason_like::text = '' OR reason LIKE '%' || @reason_like::text || '%')
    AND (coalesce(cardinality(@ids::bigint[]), 0) = 0 OR id = ANY(@ids::bigint[]))
ORDER BY id;

-- name: DeadLetterMarkReplayed :exec
UPDATE stripe.dead_letters SET replayed_at = now() WHERE id = @id;

-- name: DeadLetterCountByReason :many
-- DeadLetterCountByReason counts the dead letters not replayed, by reason.
SELECT reason, count(*)::bigint AS n FROM stripe.dead_letters WHERE replayed_at IS NULL GROUP BY reason ORDER BY n DESC, reason;

-- name: EventReceipts :many
-- EventReceipts returns, for each of ids that is stored, how many rows hold
-- it and when the first was received. The primary key, (id, created) (an
-- event's created never changes), keeps copies at 1; a check that counts
-- them says so rather than assuming it.
SELECT id, count(*)::bigint AS copies, min(received_at)::timestamptz AS received_at
FROM stripe.events
WHERE id = ANY(@ids::text[])
GROUP BY id
ORDER BY id;

-- name: EventIDsNotAmong :many
-- EventIDsNotAmong returns the ids of the stored events that are not among
-- ids, in id order.
SELECT e.id
FROM stripe.events AS e
WHERE NOT EXISTS (SELECT 1 FROM unnest(@ids::text[]) AS k(id) WHERE k.id = e.id)
ORDER BY e.id;

-- name: EventPartitionsMaintain :many
-- EventPartitionsMaintain creates stripe.events' month partitions from the
-- current month to @ahead months later and drops those past
-- @retention_months (0 keeps every month); see schema 0014.
SELECT m::text AS done FROM stripe.events_maintain(@ahead::int, @retention_months::int) AS m;
