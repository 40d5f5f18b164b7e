-- name: EventRebuildPage :many
-- EventRebuildPage returns up to lim stored events about objects of the
-- types given (snapshot events by their object, thin events by their related
-- object), in the order created, received_at, id, after the position given:
-- what stripesync rebuild applies again.
SELECT id, data, created, received_at
FROM stripe.events
WHERE object_type = ANY(@object_types::text[])
    AND (created, received_at, id) > (@after_created::timestamptz, @after_received::timestamptz, @after_id::text)
ORDER BY created, received_at, id
LIMIT @lim::int;
