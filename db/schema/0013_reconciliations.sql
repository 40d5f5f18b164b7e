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

-- The last reconciliation of each relation and account with Stripe (see
-- README "Reconciliation"): what a complete listing returned beside what the
-- mirror holds live afterwards, and what reconciling did.
CREATE TABLE stripe.reconciliations (
    relation       text NOT NULL,
    account        text NOT NULL,        -- '' for the platform
    listed_at      timestamptz NOT NULL, -- when the listing started (the database's clock)
    finished_at    timestamptz NOT NULL DEFAULT now(),
    api_objects    bigint NOT NULL,      -- objects the listing returned
    api_digest     bigint NOT NULL,      -- xor of stripe.id_hash of their ids
    mirror_objects bigint NOT NULL,      -- rows not marked deleted, once reconciled
    mirror_digest  bigint NOT NULL,
    retrieved      bigint NOT NULL,      -- rows the listing did not return, retrieved one by one
    marked_deleted bigint NOT NULL,      -- of those, the ones Stripe no longer has
    unchecked      bigint NOT NULL,      -- of those, the ones whose retrieval failed (left as they are)
    PRIMARY KEY (relation, account)
);

-- +goose Down
DROP TABLE stripe.reconciliations;
DROP FUNCTION stripe.id_hash(text);
