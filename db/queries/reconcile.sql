-- name: DatabaseNow :one
-- DatabaseNow is the database's clock: updated_at is written by it, so a
-- listing's start is taken from it too, whatever the syncer's clock says.
SELECT now()::timestamptz AS now;

-- name: ReconciliationUpsert :exec
-- ReconciliationUpsert keeps the newest reconciliation of each relation
-- and account.
INSERT INTO stripe.reconciliations AS r (relation, account, listed_at, finished_at, api_objects, api_digest,
    mirror_objects, mirror_digest, retrieved, marked_deleted, unchecked)
SELECT u.relation, u.account, u.listed_at, now(), u.api_objects, u.api_digest, u.mirror_objects, u.mirror_digest,
    u.retrieved, u.marked_deleted, u.unchecked
FROM (
    SELECT
        unnest(@relations::text[]) AS relation,
        unnest(@accounts::text[]) AS account,
        unnest(@listed_ats::timestamptz[]) AS listed_at,
        unnest(@api_objects::bigint[]) AS api_objects,
        unnest(@api_digests::bigint[]) AS api_digest,
        unnest(@mirror_objects::bigint[]) AS mirror_objects,
        unnest(@mirror_digests::bigint[]) AS mirror_digest,
        unnest(@retrieveds::bigint[]) AS retrieved,
        unnest(@marked_deleteds::bigint[]) AS marked_deleted,
        unnest(@uncheckeds::bigint[]) AS unchecked
) AS u
ON CONFLICT (relation, account) DO UPDATE SET
    listed_at = excluded.listed_at,
    finished_at = excluded.finished_at,
    api_objects = excluded.api_objects,
    api_digest = excluded.api_digest,
    mirror_objects = excluded.mirror_objects,
    mirror_digest = excluded.mirror_digest,
    retrieved = excluded.retrieved,
    marked_deleted = excluded.marked_deleted,
    unchecked = excluded.unchecked
WHERE r.listed_at <= excluded.listed_at;

-- name: ReconciliationList :many
-- ReconciliationList returns the last reconciliation of every relation and
-- account, platform first.
SELECT relation, account, listed_at, finished_at, api_objects, api_digest, mirror_objects, mirror_digest,
    retrieved, marked_deleted, unchecked
FROM stripe.reconciliations
ORDER BY relation, account;
