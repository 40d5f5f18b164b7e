-- +goose Up
-- Thin events ("object": "v2.core.event") carry no snapshot of their object,
-- only a reference to it (related_object {id, type, url}). stripe.events
-- names the object of either kind of event.
DROP INDEX stripe.events_object_id_idx;
ALTER TABLE stripe.events DROP COLUMN object_type, DROP COLUMN object_id;
ALTER TABLE stripe.events
    ADD COLUMN object_type text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'object', data -> 'related_object' ->> 'type')) STORED,
    ADD COLUMN object_id text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'id', data -> 'related_object' ->> 'id')) STORED;
CREATE INDEX events_object_id_idx ON stripe.events (object_id);

-- Objects whose current state must be fetched from the API: the objects of
-- thin events (and of Stripe's alert that it failed to generate an event).
-- Written in the transaction that stores the event, so a fetch is never
-- lost; one row per object however many events name it, so that a burst of
-- events costs one fetch. generation grows with each event; the fetcher
-- removes a row only if no event came after the one it fetched for.
CREATE TABLE stripe.pending_fetches (
    object     text NOT NULL,          -- catalog object name, e.g. customer
    id         text NOT NULL,
    account    text NOT NULL DEFAULT '', -- '' for the platform
    livemode   boolean NOT NULL,
    url        text NOT NULL,          -- the related object's url, e.g. /v1/customers/cus_1
    event_id   text NOT NULL,          -- the newest event naming it
    since      timestamptz NOT NULL,   -- created time of the first event waiting
    generation bigint NOT NULL DEFAULT 1,
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT now(),
    last_error text,
    PRIMARY KEY (object, id, account)
);
CREATE INDEX pending_fetches_next_at_idx ON stripe.pending_fetches (next_at);

-- +goose Down
DROP TABLE stripe.pending_fetches;
DROP INDEX stripe.events_object_id_idx;
ALTER TABLE stripe.events DROP COLUMN object_type, DROP COLUMN object_id;
ALTER TABLE stripe.events
    ADD COLUMN object_type text GENERATED ALWAYS AS (data -> 'data' -> 'object' ->> 'object') STORED,
    ADD COLUMN object_id text GENERATED ALWAYS AS (data -> 'data' -> 'object' ->> 'id') STORED;
CREATE INDEX events_object_id_idx ON stripe.events (object_id);
