-- +goose Up
-- +goose StatementBegin
-- stripe.id_hash is a 48-bit hash of an object id (the first 12 hex digits
-- of its md5). The xor of the hashes of a set of ids is the set's digest:
-- independent of order, computed by PostgreSQL over a relation and by the
-- syncer over a listing as it pages, so that the two sides compare without
-- either holding the ids. 48 bits, so that a digest is exact as a
-- Prometheus sample (a float64 holds 53).
CREATE FUNCTION stripe.id_hash(id text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ('x' || substr(md5(id), 1, 12))::bit(48)::bigint;
-- +goose StatementEnd

-- The reconciliations of each relation and account with Stripe (see README
-- "Reconciliation"), written by the processor only, from the markers a
-- complete listing puts on the stream: "listing started" records when it
-- was applied (listing, started_at; completed_at NULL), "listing complete"
-- what the listing returned beside what the mirror held live then, and
-- the rows it did not return, each queued in stripe.pending_fetches; the
-- refetcher counts those Stripe no longer has as it marks them deleted,
-- taking them off the mirror's side. The counts are those of the last
-- completed listing (listed_at); a listing under way leaves them alone.
CREATE TABLE stripe.reconciliations (
    relation       text NOT NULL,
    account        text NOT NULL,        -- '' for the platform
    listing        text NOT NULL,        -- the backfill run of the newest listing started
    started_at     timestamptz NOT NULL, -- when its "listing started" was applied (the database's clock)
    completed_at   timestamptz,          -- when its "listing complete" was applied; NULL while listing
    listed_at      timestamptz,          -- started_at of the last completed listing, whose counts follow
    api_objects    bigint NOT NULL DEFAULT 0, -- objects the listing returned
    api_digest     bigint NOT NULL DEFAULT 0, -- xor of stripe.id_hash of their ids
    mirror_objects bigint NOT NULL DEFAULT 0, -- rows not marked deleted, less those the refetcher marked since
    mirror_digest  bigint NOT NULL DEFAULT 0,
    unlisted       bigint NOT NULL DEFAULT 0, -- live rows the listing did not return, queued for retrieval
    marked_deleted bigint NOT NULL DEFAULT 0, -- of those, the ones Stripe no longer has
    PRIMARY KEY (relation, account)
);

-- +goose Down
DROP TABLE stripe.reconciliations;
DROP FUNCTION stripe.id_hash(text);
