-- name: PendingFetchAddBatch :exec
-- PendingFetchAddBatch records objects whose current state must be fetched,
-- each once. An object already waiting keeps its row and its due time (a
-- burst of events costs one fetch) but its generation grows, so that a fetch
-- that started before this event does not remove it.
INSERT INTO stripe.pending_fetches AS p (object, id, account, livemode, url, event_id, since, next_at)
SELECT u.object, u.id, u.account, u.livemode, u.url, u.event_id, u.since, now() + make_interval(secs => @delay_seconds::float8)
FROM (
    SELECT
        unnest(@objects::text[]) AS object,
        unnest(@ids::text[]) AS id,
        unnest(@accounts::text[]) AS account,
        unnest(@livemodes::boolean[]) AS livemode,
        unnest(@urls::text[]) AS url,
        unnest(@event_ids::text[]) AS event_id,
        unnest(@sinces::timestamptz[]) AS since
) AS u
ON CONFLICT (object, id, account) DO UPDATE SET
    generation = p.generation + 1,
    url = excluded.url,
    event_id = excluded.event_id,
    since = greatest(p.since, excluded.since);

-- name: PendingFetchClaim :many
-- PendingFetchClaim takes up to @max objects that are due and leases them:
-- their due time moves by @lease_seconds, so that another fetcher skips them
-- until the lease ends (a fetcher that died leaves them due again).
UPDATE stripe.pending_fetches AS p
SET next_at = now() + make_interval(secs => @lease_seconds::float8), attempts = p.attempts + 1
FROM (
    SELECT d.object, d.id, d.account FROM stripe.pending_fetches AS d
    WHERE d.next_at <= now()
    ORDER BY d.next_at
    LIMIT @max
    FOR UPDATE SKIP LOCKED
) AS due
WHERE p.object = due.object AND p.id = due.id AND p.account = due.account
RETURNING p.object, p.id, p.account, p.livemode, p.url, p.event_id, p.since, p.generation, p.attempts;

-- name: PendingFetchDone :exec
-- PendingFetchDone removes a fetched object, unless an event came after the
-- one it was fetched for.
DELETE FROM stripe.pending_fetches
WHERE object = @object AND id = @id AND account = @account AND generation = @generation;

-- name: PendingFetchRetry :exec
-- PendingFetchRetry makes a failed fetch due again after @delay_seconds.
UPDATE stripe.pending_fetches
SET next_at = now() + make_interval(secs => @delay_seconds::float8), last_error = @last_error::text
WHERE object = @object AND id = @id AND account = @account;

-- name: PendingFetchSettle :exec
-- PendingFetchSettle removes the objects that a state written as of
-- state_at already settles: every event naming them is older.
DELETE FROM stripe.pending_fetches AS p
USING (
    SELECT
        unnest(@objects::text[]) AS object,
        unnest(@ids::text[]) AS id,
        unnest(@accounts::text[]) AS account,
        unnest(@state_ats::timestamptz[]) AS state_at
) AS s
WHERE p.object = s.object AND p.id = s.id AND p.account = s.account AND p.since <= s.state_at;

-- name: PendingFetchStats :one
-- PendingFetchStats counts the objects waiting and the created time of the
-- oldest event among them (now when none waits).
SELECT count(*)::bigint AS waiting, coalesce(min(since), now())::timestamptz AS oldest FROM stripe.pending_fetches;
