-- +goose Up
-- stripe.events, partitioned by month of created (native range partitioning),
-- so that a busy account's events (a million a day) can be kept for a year
-- and old months dropped whole instead of deleted row by row.
--
-- Dedup by event id across partitions: a unique index of a partitioned table
-- must contain the partition key, so the key is (id, created). An event's
-- created is part of the event as Stripe made it: a redelivery, the same
-- event listed by the Events API, and a replayed dead letter all carry the
-- same created, so they land in the same partition and meet the same row
-- there (ON CONFLICT (id, created) DO NOTHING). What dedups is the stored
-- row: once a month is dropped by retention, an event of that month
-- delivered again is stored again (in stripe.events_default) and its object
-- applied again, which the version rule makes harmless (it is older than
-- the state the relation holds).
--
-- stripe.events_default holds events whose month has no partition: older
-- than the oldest month kept, or beyond the months created ahead. Nothing
-- is refused for its date. stripe.events_maintain creates the months ahead
-- (moving any rows of a new month out of the default first) and drops the
-- months past retention; the processor calls it at start and every hour.
ALTER TABLE stripe.events RENAME TO events_unpartitioned;
ALTER INDEX stripe.events_pkey RENAME TO events_unpartitioned_pkey;
ALTER INDEX stripe.events_type_created_idx RENAME TO events_unpartitioned_type_created_idx;
ALTER INDEX stripe.events_object_id_idx RENAME TO events_unpartitioned_object_id_idx;
ALTER INDEX stripe.events_created_idx RENAME TO events_unpartitioned_created_idx;

CREATE TABLE stripe.events (
    id          text NOT NULL,
    type        text NOT NULL,
    account     text,          -- connected account; NULL for the platform
    livemode    boolean NOT NULL,
    api_version text,
    created     timestamptz NOT NULL,
    data        jsonb NOT NULL, -- the whole event, as Stripe sent it
    received_at timestamptz NOT NULL DEFAULT now(),
    object_type text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'object', data -> 'related_object' ->> 'type')) STORED,
    object_id text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'id', data -> 'related_object' ->> 'id')) STORED,
    unapplied   text,          -- why its object could not be applied (schema 0012); NULL once applied
    PRIMARY KEY (id, created)
) PARTITION BY RANGE (created);
CREATE INDEX events_type_created_idx ON stripe.events (type, created);
CREATE INDEX events_object_id_idx ON stripe.events (object_id);
CREATE INDEX events_created_idx ON stripe.events (created);
CREATE TABLE stripe.events_default PARTITION OF stripe.events DEFAULT;

-- +goose StatementBegin
-- events_maintain makes sure stripe.events has a partition for every month
-- from the current one to ahead months later (a month whose events sit in
-- the default partition gets them moved into its own), and, when
-- retention_months > 0, drops the partitions that end more than
-- retention_months months before the current month starts (and the default
-- partition's events as old). It returns what it did, one line per
-- partition. Locks are taken for at most lock_wait; a call that could not
-- get them fails and changes nothing, and the next call does the work.
CREATE FUNCTION stripe.events_maintain(ahead int, retention_months int, lock_wait interval DEFAULT '5 seconds')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    first_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    cutoff timestamptz;
    m timestamptz;
    part text;
    r record;
BEGIN
    PERFORM set_config('lock_timeout', (extract(epoch FROM lock_wait) * 1000)::bigint::text, true);
    -- Months that have events in the default partition, before the current
    -- one too (the first migration's old events, events delivered late).
    FOR m IN
        SELECT DISTINCT date_trunc('month', created AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM stripe.events_default
        UNION
        SELECT first_month + make_interval(months => i) FROM generate_series(0, ahead) AS i
        ORDER BY 1
    LOOP
        part := 'events_' || to_char(m AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
        CONTINUE WHEN to_regclass('stripe.' || part) IS NOT NULL;
        IF retention_months > 0 AND m + make_interval(months => 1) <= first_month - make_interval(months => retention_months) THEN
            CONTINUE; -- past retention: not brought back
        END IF;
        EXECUTE format('CREATE TABLE stripe.%I (LIKE stripe.events INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        EXECUTE format('ALTER TABLE stripe.%I ADD CONSTRAINT %I CHECK (created >= %L AND created < %L)',
            part, part || '_month', m, m + make_interval(months => 1));
        EXECUTE format('WITH moved AS (DELETE FROM stripe.events_default WHERE created >= %L AND created < %L RETURNING *)
            INSERT INTO stripe.%I (id, type, account, livemode, api_version, created, data, received_at, unapplied)
            SELECT id, type, account, livemode, api_version, created, data, received_at, unapplied FROM moved',
            m, m + make_interval(months => 1), part);
        EXECUTE format('ALTER TABLE stripe.events ATTACH PARTITION stripe.%I FOR VALUES FROM (%L) TO (%L)',
            part, m, m + make_interval(months => 1));
        -- The check proved the range to ATTACH without a scan; the bound
        -- says it from now on.
        EXECUTE format('ALTER TABLE stripe.%I DROP CONSTRAINT %I', part, part || '_month');
        RETURN NEXT 'created ' || part;
    END LOOP;
    IF retention_months <= 0 THEN
        RETURN;
    END IF;
    cutoff := first_month - make_interval(months => retention_months);
    FOR r IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'stripe.events'::regclass AND c.relname <> 'events_default'
        ORDER BY c.relname
    LOOP
        -- FOR VALUES FROM ('…') TO ('…'): drop when the upper bound is at or
        -- before the cutoff.
        IF substring(r.bound FROM 'TO \(''([^'']+)''\)')::timestamptz <= cutoff THEN
            EXECUTE format('DROP TABLE stripe.%I', r.relname);
            RETURN NEXT 'dropped ' || r.relname;
        END IF;
    END LOOP;
    DELETE FROM stripe.events_default WHERE created < cutoff;
END
$$;
-- +goose StatementEnd

-- The events stored so far go to their months' partitions.
INSERT INTO stripe.events (id, type, account, livemode, api_version, created, data, received_at, unapplied)
SELECT id, type, account, livemode, api_version, created, data, received_at, unapplied FROM stripe.events_unpartitioned;
DROP TABLE stripe.events_unpartitioned;
SELECT count(*) FROM stripe.events_maintain(2, 0);

-- TOAST compression: lz4 rather than PostgreSQL's default pglz for the
-- objects (data) of every relation and of stripe.events, so that each
-- object, written twice (in its event and in its relation), costs less CPU
-- to store: about 15% of PostgreSQL's CPU in the benchmark, for about a
-- tenth more bytes on disk (README, Storage). Values stored before keep
-- pglz; new month partitions copy the setting (LIKE … INCLUDING
-- COMPRESSION). A server built without lz4 keeps pglz.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'stripe' AND a.attname = 'data' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE stripe.%I ALTER COLUMN data SET COMPRESSION lz4', r.relname);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: TOAST compression stays pglz';
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE stripe.events RENAME TO events_partitioned;
ALTER INDEX stripe.events_type_created_idx RENAME TO events_partitioned_type_created_idx;
ALTER INDEX stripe.events_object_id_idx RENAME TO events_partitioned_object_id_idx;
ALTER INDEX stripe.events_created_idx RENAME TO events_partitioned_created_idx;
ALTER INDEX stripe.events_pkey RENAME TO events_partitioned_pkey;
CREATE TABLE stripe.events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    account     text,
    livemode    boolean NOT NULL,
    api_version text,
    created     timestamptz NOT NULL,
    data        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    object_type text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'object', data -> 'related_object' ->> 'type')) STORED,
    object_id text GENERATED ALWAYS AS
        (coalesce(data -> 'data' -> 'object' ->> 'id', data -> 'related_object' ->> 'id')) STORED,
    unapplied   text
);
INSERT INTO stripe.events (id, type, account, livemode, api_version, created, data, received_at, unapplied)
SELECT id, type, account, livemode, api_version, created, data, received_at, unapplied FROM stripe.events_partitioned
ON CONFLICT (id) DO NOTHING;
DROP TABLE stripe.events_partitioned;
DROP FUNCTION stripe.events_maintain(int, int, interval);
CREATE INDEX events_type_created_idx ON stripe.events (type, created);
CREATE INDEX events_object_id_idx ON stripe.events (object_id);
CREATE INDEX events_created_idx ON stripe.events (created);
