-- +goose Up
-- An event whose object could not be stored (data PostgreSQL refuses, such
-- as a \u0000 in a string, which jsonb cannot hold) is still an event
-- received: it is kept here with unapplied saying why, its data the event
-- with what jsonb cannot hold replaced by U+FFFD, and its message, byte for
-- byte, in stripe.dead_letters. NULL for every event applied. A redelivery
-- (a replay of the dead letter) of an unapplied event is applied as new.
ALTER TABLE stripe.events ADD COLUMN unapplied text;

-- +goose Down
ALTER TABLE stripe.events DROP COLUMN unapplied;
