-- +goose Up
-- A dead letter keeps the message's headers too: an object fetched from the
-- API (stripe.object.*) carries its account, fetch time, API version and
-- parent in headers, and cannot be replayed without them.
ALTER TABLE stripe.dead_letters ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';
-- Replayed dead letters are marked, never deleted.
ALTER TABLE stripe.dead_letters ADD COLUMN replayed_at timestamptz;

-- +goose Down
ALTER TABLE stripe.dead_letters DROP COLUMN replayed_at;
ALTER TABLE stripe.dead_letters DROP COLUMN headers;
