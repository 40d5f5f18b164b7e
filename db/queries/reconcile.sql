-- name: DatabaseNow :one
-- DatabaseNow is the database's clock: updated_at is written by it, so a
-- listing's start is taken from it too.
SELECT now()::timestamptz AS now;

-- name: ReconciliationStart :exec
-- ReconciliationStart records that @listing started listing @relations for
-- @account at @started_at. A redelivered start of the same listing changes
-- nothing.
INSERT INTO stripe.reconciliations AS r (relation, account, listing, started_at)
SELECT unnest(@relations::text[]), @account::text, @listing::text, @started_at::timestamptz
ON CONFLICT (relation, account) DO UPDATE SET
    listing = excluded.listing,
    started_at = excluded.started_at,
    completed_at = NULL
WHERE r.listing <> excluded.listing;

-- name: ReconciliationStarted :one
-- ReconciliationStarted returns the newest listing started of @relation
-- for @account.
SELECT listing, started_at, completed_at FROM stripe.reconciliations
WHERE relation = @relation AND account = @account;

-- name: ReconciliationComplete :exec
-- ReconciliationComplete keeps the outcome of @listing, once.
UPDATE stripe.reconciliations SET
    completed_at = now(),
    listed_at = started_at,
    api_objects = @api_objects,
    api_digest = @api_digest,
    mirror_objects = @mirror_objects,
    mirror_digest = @mirror_digest,
    unlisted = @unlisted,
    marked_deleted = 0
WHERE relation = @relation AND account = @account AND listing = @listing AND completed_at IS NULL;

-- name: ReconciliationMarked :exec
-- ReconciliationMarked counts @id, a row @listing did not return, as
-- marked deleted, and takes it off the mirror's side (the digest is a xor).
UPDATE stripe.reconciliations SET
    marked_deleted = marked_deleted + 1,
    mirror_objects = mirror_objects - 1,
    mirror_digest = mirror_digest # stripe.id_hash(@id::text)
WHERE relation = @relation AND account = @account AND listing = @listing AND completed_at IS NOT NULL;

-- name: ReconciliationList :many
-- ReconciliationList returns the last completed reconciliation of every
-- relation and account, platform first; completed_at is NULL while a
-- newer listing is under way.
SELECT relation, account, listing, listed_at::timestamptz AS listed_at, completed_at,
    api_objects, api_digest, mirror_objects, mirror_digest, unlisted, marked_deleted
FROM stripe.reconciliations
WHERE listed_at IS NOT NULL
ORDER BY relation, account;

-- name: ReconciliationWaiting :many
-- ReconciliationWaiting counts the rows listings did not return that wait
-- for their retrieval, by object, account and listing (the pending fetch's
-- event_id, reconcile:<listing>).
SELECT object, account, substr(event_id, length('reconcile:') + 1)::text AS listing, count(*)::bigint AS waiting
FROM stripe.pending_fetches
WHERE event_id LIKE 'reconcile:%'
GROUP BY 1, 2, 3;
