-- name: TableExists :one
-- TableExists reports whether schema_name holds a table table_name.
SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = @schema_name::text AND tablename = @table_name::text
) AS exists;

-- name: SchemaCreateLock :exec
-- SchemaCreateLock serialises SchemaCreate among processors starting at once
-- (CREATE SCHEMA IF NOT EXISTS is not safe against itself), until the
-- transaction ends.
SELECT pg_advisory_xact_lock(hashtext('stripesync: create schema stripe'));

-- name: SchemaCreate :exec
-- SchemaCreate makes schema stripe before goose writes its version table
-- into it, when roles.sql has not made it already.
CREATE SCHEMA IF NOT EXISTS stripe;

-- name: SchemaExists :one
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'stripe') AS exists;
